package io.blockmover.nbd.protocol;

import io.netty.channel.CombinedChannelDuplexHandler;

/** The client's transmission pair: requests out, replies in. */
public final class ClientCodec extends CombinedChannelDuplexHandler<ReplyDecoder, RequestEncoder> {
    public ClientCodec(ReplyLengths replyLengths) {
        super(new ReplyDecoder(replyLengths), new RequestEncoder());
    }

    public ClientCodec(ReplyLengths replyLengths, int maxChunkLength) {
        super(new ReplyDecoder(replyLengths, maxChunkLength), new RequestEncoder());
    }
}
