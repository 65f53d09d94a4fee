package io.blockmover.mover.transport.nbd;

import java.io.IOException;

/**
 * The server refused what we need (TLS, the export, the protocol version). Reconnecting would
 * get the same answer, so this is never retried.
 */
public class NbdHandshakeException extends IOException {
    public NbdHandshakeException(String message) {
        super(message);
    }

    public NbdHandshakeException(String message, Throwable cause) {
        super(message, cause);
    }
}
