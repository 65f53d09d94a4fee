package io.blockmover.nbd.server;

import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * What an NBD export serves: a fixed-size array of bytes with allocation information.
 *
 * <p>Implementations must be safe for concurrent calls from several connections; the server
 * may issue requests of one connection in parallel and answer them out of order. Offsets and
 * lengths are always bytes and are validated by the server against {@link #size()} before a call.
 */
public interface BlockDevice {

    long size();

    boolean isReadOnly();

    /**
     * True when every call returns quickly without blocking (content in memory): the server then
     * serves requests on its event loop and saves two thread hand-offs per request. A device that
     * may wait on a disk or a lock held long must keep the default, so event loops never stall.
     */
    default boolean servesInline() {
        return false;
    }

    /** Sizes the server advertises with NBD_INFO_BLOCK_SIZE. */
    default BlockSizes blockSizes() {
        return BlockSizes.DEFAULT;
    }

    /** Appends exactly {@code length} bytes starting at {@code offset} to {@code dst}. */
    void read(long offset, int length, ByteBuf dst) throws IOException;

    /** Writes all readable bytes of {@code src} at {@code offset}; does not release {@code src}. */
    void write(long offset, ByteBuf src) throws IOException;

    /** Makes the range read as zeros; {@code mayPunchHole} is false when the client sent NO_HOLE. */
    void writeZeroes(long offset, long length, boolean mayPunchHole) throws IOException;

    /** Advisory discard; the range's content becomes unspecified (we make it read as zeros). */
    void trim(long offset, long length) throws IOException;

    void flush() throws IOException;

    /**
     * The {@code base:allocation} status of a range: consecutive extents starting at
     * {@code offset}, covering at least its first byte and at most the range, with flags
     * {@link Extent#HOLE} and {@link Extent#ZERO}.
     */
    List<Extent> extents(long offset, long length) throws IOException;

    /**
     * Resolves a meta context other than {@code base:allocation} by its full name, for example
     * {@code blockmover:changed:<changeId>}; empty when this device has no such context.
     */
    default Optional<StatusContext> metaContext(String name) {
        return Optional.empty();
    }

    /** Names of the extra meta contexts this device offers whose name starts with {@code prefix}. */
    default List<String> listMetaContexts(String prefix) {
        return List.of();
    }
}
