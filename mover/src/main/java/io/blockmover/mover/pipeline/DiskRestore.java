package io.blockmover.mover.pipeline;

import io.blockmover.index.backup.DiskReader;
import io.blockmover.mover.transport.DiskTarget;
import io.blockmover.mover.transport.ZeroOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;

import java.io.IOException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;

/**
 * Writes one disk of a backup to a target. Chunks are read from the repository (decompressed,
 * decrypted and digest-checked by the reader) on the worker threads, up to {@code chunksInFlight}
 * at once, and written as they come; runs of zero chunks become one write-zeroes request (which
 * a fresh file target skips, leaving holes). The target is flushed and committed at the end.
 * <p>On failure the target is abandoned (a file target removes its partial file) and the error
 * says where the first failing chunk was and what the target was left holding: the ranges not
 * written are everything from the lowest chunk that was not acknowledged to the end.
 */
public final class DiskRestore {
    private final DiskReader reader;
    private final DiskTarget target;
    private final Executor workers;
    private final int chunksInFlight;
    private final TransferCounters counters;
    private final Cancellation cancellation;
    private final Semaphore permits;
    private final FirstFailure failure = new FirstFailure();
    /** Offsets of chunks and zero runs sent to the target and not yet acknowledged. */
    private final ConcurrentSkipListSet<Long> unacknowledged = new ConcurrentSkipListSet<>();
    private volatile long failedAt = -1;

    public DiskRestore(DiskReader reader, DiskTarget target, Executor workers, int chunksInFlight,
                       TransferCounters counters, Cancellation cancellation) {
        this.reader = reader;
        this.target = target;
        this.workers = workers;
        this.chunksInFlight = chunksInFlight;
        this.counters = counters;
        this.cancellation = cancellation;
        this.permits = new Semaphore(chunksInFlight);
    }

    public void run() throws IOException, InterruptedException {
        long capacity = reader.capacity();
        if (target.capacity() < capacity) {
            throw new IOException("the target holds " + target.capacity() + " bytes, the disk needs " + capacity);
        }
        long[] next = {0};
        try {
            copy(capacity, next);
            target.flush().get();
            target.commit();
        } catch (IOException | RuntimeException | ExecutionException | InterruptedException e) {
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            long unwritten = unacknowledged.isEmpty() ? next[0] : Math.min(next[0], unacknowledged.first());
            String left = target.abandon(Math.min(unwritten, capacity), capacity);
            String where = failedAt >= 0 ? "the chunk at offset " + failedAt + ": " : "";
            if (cause instanceof InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted; " + left, ie);
            }
            if (cause instanceof CancellationException c) {
                c.addSuppressed(new IOException(left));
                throw c;
            }
            throw new IOException(where + cause.getMessage() + "; " + left, cause);
        }
    }

    /** Sends every chunk to the target; {@code next[0]} is where the loop stopped. */
    private void copy(long capacity, long[] next) throws IOException, InterruptedException {
        int chunkSize = reader.chunkSize();
        long zeroStart = -1;
        try {
            for (long offset = 0; offset < capacity && !failure.happened(); offset += chunkSize) {
                cancellation.check();
                if (reader.isZero(offset)) {
                    if (zeroStart < 0) {
                        zeroStart = offset;
                    }
                    continue;
                }
                if (zeroStart >= 0) {
                    zero(zeroStart, offset - zeroStart);
                    zeroStart = -1;
                }
                permits.acquire();
                next[0] = offset + chunkSize;
                unacknowledged.add(offset);
                long at = offset;
                int length = (int) Math.min(chunkSize, capacity - offset);
                workers.execute(() -> copyChunk(at, length));
            }
            if (!failure.happened()) {
                if (zeroStart >= 0) {
                    zero(zeroStart, capacity - zeroStart);
                }
                next[0] = capacity;
            }
        } finally {
            permits.acquireUninterruptibly(chunksInFlight);
            permits.release(chunksInFlight);
            next[0] = Math.min(next[0], capacity);
        }
        failure.rethrow();
    }

    private void copyChunk(long offset, int length) {
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(length);
        try {
            // In order: a frame is decoded whole by the first worker that needs it, and the
            // workers reading its other chunks take them from the decoded frame.
            reader.readInOrder(offset, buf.nioBuffer(0, length));
            buf.writerIndex(length);
        } catch (Throwable t) {
            buf.release();
            fail(offset, t);
            permits.release();
            return;
        }
        // The target owns and releases the buffer from here on.
        target.write(offset, buf, false).whenComplete((v, err) -> {
            if (err != null) {
                fail(offset, err);
            } else {
                unacknowledged.remove(offset);
                counters.completed(length);
            }
            permits.release();
        });
    }

    private void fail(long offset, Throwable t) {
        if (!failure.happened()) {
            failedAt = offset;
        }
        failure.record(t);
    }

    private void zero(long offset, long length) throws InterruptedException {
        permits.acquire();
        unacknowledged.add(offset);
        CompletableFuture<Void> f = target.writeZeroes(offset, length, ZeroOptions.DEFAULT);
        f.whenComplete((v, err) -> {
            if (err != null) {
                fail(offset, err);
            } else {
                unacknowledged.remove(offset);
                counters.skippedZeros(length);
            }
            permits.release();
        });
    }
}
