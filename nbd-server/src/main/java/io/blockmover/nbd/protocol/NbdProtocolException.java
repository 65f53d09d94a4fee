package io.blockmover.nbd.protocol;

import io.netty.handler.codec.DecoderException;

/**
 * The peer broke the protocol (bad magic, impossible length, unknown flags). Decoders throw it
 * once and then discard all further input, so a connection fails exactly once and cleanly.
 */
public class NbdProtocolException extends DecoderException {
    public NbdProtocolException(String message) {
        super(message);
    }
}
