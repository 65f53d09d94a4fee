package io.blockmover.mover.pipeline;

import io.blockmover.index.backup.DiskReader;
import io.blockmover.mover.transport.DiskTarget;
import io.blockmover.mover.transport.ZeroOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;

/**
 * Writes one disk of a backup to a target. Chunks are read from the repository (decompressed,
 * decrypted and digest-checked by the reader) on the worker threads, up to {@code chunksInFlight}
 * at once, and written as they come; runs of zero chunks become one write-zeroes request (which
 * a fresh file target skips, leaving holes). The target is flushed at the end.
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
                long at = offset;
                int length = (int) Math.min(chunkSize, capacity - offset);
                workers.execute(() -> copyChunk(at, length));
            }
            if (zeroStart >= 0 && !failure.happened()) {
                zero(zeroStart, capacity - zeroStart);
            }
        } finally {
            permits.acquireUninterruptibly(chunksInFlight);
            permits.release(chunksInFlight);
        }
        failure.rethrow();
        try {
            target.flush().get();
        } catch (ExecutionException e) {
            throw new IOException("flushing the restore target: " + e.getCause().getMessage(), e.getCause());
        }
    }

    private void copyChunk(long offset, int length) {
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(length);
        try {
            reader.read(offset, buf.nioBuffer(0, length));
            buf.writerIndex(length);
        } catch (Throwable t) {
            buf.release();
            failure.record(t);
            permits.release();
            return;
        }
        // The target owns and releases the buffer from here on.
        target.write(offset, buf, false).whenComplete((v, err) -> {
            if (err != null) {
                failure.record(err);
            } else {
                counters.completed(length);
            }
            permits.release();
        });
    }

    private void zero(long offset, long length) throws InterruptedException {
        permits.acquire();
        CompletableFuture<Void> f = target.writeZeroes(offset, length, ZeroOptions.DEFAULT);
        f.whenComplete((v, err) -> {
            if (err != null) {
                failure.record(err);
            } else {
                counters.skippedZeros(length);
            }
            permits.release();
        });
    }
}
