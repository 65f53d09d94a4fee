package io.blockmover.nbd.protocol;

import io.netty.channel.CombinedChannelDuplexHandler;

/** The server's transmission pair: requests in, replies out. */
public final class ServerCodec extends CombinedChannelDuplexHandler<RequestDecoder, ReplyEncoder> {
    public ServerCodec() {
        this(NbdConstants.DEFAULT_MAX_PAYLOAD);
    }

    public ServerCodec(int maxPayload) {
        super(new RequestDecoder(maxPayload), new ReplyEncoder());
    }
}
