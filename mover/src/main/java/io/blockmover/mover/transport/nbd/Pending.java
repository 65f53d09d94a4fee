package io.blockmover.mover.transport.nbd;

import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;

/**
 * One request from submission to its final reply. Lives on its connection's event loop. When
 * a connection drops before the final reply, {@link #reset()} forgets what arrived so the
 * request can be sent again, unchanged, on the next connection.
 */
abstract sealed class Pending permits PendingRead, PendingStatus, PendingCommand {
    /** Event-loop nanoTime after which the request counts as lost; set when sent. */
    long deadline;

    /** The wire request under this cookie (a WRITE gets its own reference to the data). */
    abstract NbdRequest request(long cookie);

    /** Bytes that follow a successful simple reply. */
    abstract long simpleReplyLength();

    /**
     * Takes one reply for this request. The caller still owns {@code reply} and releases it;
     * anything kept is retained here.
     */
    abstract void accept(NbdReply reply) throws NbdProtocolViolationException;

    /** The final reply arrived: complete the caller's future (or fail it with the server's error). */
    abstract void complete() throws NbdProtocolViolationException;

    /** Fails the caller's future and releases everything held. */
    abstract void fail(Throwable cause);

    /** Drops partial replies before the request is sent again. */
    abstract void reset();

    /** For messages: e.g. "READ of 1048576 bytes at offset 0". */
    abstract String describe();

    static NbdProtocolViolationException violation(Pending p, String what) {
        return new NbdProtocolViolationException("server broke the protocol answering " + p.describe() + ": " + what);
    }
}
