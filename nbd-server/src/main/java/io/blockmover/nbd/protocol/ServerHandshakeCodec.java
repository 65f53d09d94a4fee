package io.blockmover.nbd.protocol;

import io.netty.channel.CombinedChannelDuplexHandler;

/** The server's handshake pair; remove it from the pipeline when transmission starts. */
public final class ServerHandshakeCodec extends CombinedChannelDuplexHandler<ServerHandshakeDecoder, ServerHandshakeEncoder> {
    public ServerHandshakeCodec() {
        this(NbdConstants.DEFAULT_MAX_OPTION_LENGTH);
    }

    public ServerHandshakeCodec(int maxOptionLength) {
        super(new ServerHandshakeDecoder(maxOptionLength), new ServerHandshakeEncoder());
    }
}
