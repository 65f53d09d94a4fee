package io.blockmover.mover.transport;

import java.io.IOException;

import io.netty.buffer.ByteBuf;
import java.util.concurrent.CompletableFuture;

/**
 * A disk to write to (restore), whatever the transport. Asynchronous like {@link DiskSource};
 * a write completes when the target acknowledged it, durable only after {@link #flush()} or
 * with {@code fua}.
 */
public interface DiskTarget extends AutoCloseable {

    long capacity();

    BlockConstraints blockConstraints();

    /** What the target can do beyond plain writes. */
    TargetCapabilities capabilities();

    /**
     * Writes the readable bytes of {@code data} at {@code offset}. Takes ownership of the buffer
     * (releases it once sent, on every path).
     */
    CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua);

    /**
     * Makes {@code [offset, offset + length)} read as zeros. Without
     * {@link TargetCapabilities#writeZeroes()} the target writes zero buffers itself. With
     * {@link ZeroOptions#fastOnly()} a target that could only zero slowly fails at once with
     * {@link DiskIoException} (errno ENOTSUP 95) so the caller can choose to skip or write.
     */
    CompletableFuture<Void> writeZeroes(long offset, long length, ZeroOptions options);

    /** Tells the target the range is no longer needed (a hint: contents become unspecified). */
    CompletableFuture<Void> trim(long offset, long length);

    /** Makes every acknowledged write durable. */
    CompletableFuture<Void> flush();

    /**
     * The restore wrote, checked and flushed everything: make it visible (a file target renames
     * its partial file to the final name). Nothing to do for a target written in place.
     */
    default void commit() throws IOException {}

    /**
     * The restore failed with {@code [unwrittenFrom, capacity)} not (all) written: undo what can
     * be undone and say, for the error line, what is left. A target written in place can only
     * name the range.
     */
    default String abandon(long unwrittenFrom, long capacity) {
        return "bytes " + unwrittenFrom + " to " + capacity + " of the target were left unwritten: it holds old and restored data";
    }

    @Override
    void close();
}
