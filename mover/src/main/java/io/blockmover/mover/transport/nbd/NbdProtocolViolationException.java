package io.blockmover.mover.transport.nbd;

import java.io.IOException;

/**
 * The server sent something the protocol forbids (bad magic, unknown cookie, a chunk outside
 * its request, a short reply). The connection is closed and nothing it delivered is trusted,
 * so this is never retried: a broken server would corrupt data silently.
 */
public class NbdProtocolViolationException extends IOException {
    public NbdProtocolViolationException(String message) {
        super(message);
    }

    public NbdProtocolViolationException(String message, Throwable cause) {
        super(message, cause);
    }
}
