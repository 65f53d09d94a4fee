package io.blockmover.nbd.protocol;

/**
 * How a client tells its {@link ReplyDecoder} the data length of a simple reply: the wire does
 * not carry it, only the client knows which cookie was a READ of how many bytes.
 */
@FunctionalInterface
public interface ReplyLengths {

    /** No request with that cookie is in flight: the reply is a protocol error. */
    long UNKNOWN = -1;

    /**
     * The number of data bytes that follow a successful simple reply for {@code cookie}: the
     * READ's length, 0 for other commands, or {@link #UNKNOWN}.
     */
    long dataLength(long cookie);
}
