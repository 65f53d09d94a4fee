package io.blockmover.nbd.protocol;

import io.netty.channel.CombinedChannelDuplexHandler;

/** The client's handshake pair; remove it from the pipeline when transmission starts. */
public final class ClientHandshakeCodec extends CombinedChannelDuplexHandler<ClientHandshakeDecoder, ClientHandshakeEncoder> {
    public ClientHandshakeCodec() {
        this(NbdConstants.DEFAULT_MAX_OPTION_LENGTH);
    }

    public ClientHandshakeCodec(int maxReplyLength) {
        ClientHandshakeDecoder decoder = new ClientHandshakeDecoder(maxReplyLength);
        init(decoder, new ClientHandshakeEncoder(decoder));
    }
}
