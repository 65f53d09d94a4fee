package io.blockmover.mover.pipeline;

import io.blockmover.mover.transport.DiskSource;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;

/**
 * Reads chunks from a source with up to {@code inFlight} outstanding and hands each to a
 * consumer on a worker thread, so network I/O and CPU work overlap. A semaphore is the
 * backpressure: at most {@code inFlight} chunks exist at once, read or being consumed, which
 * bounds memory. The first failure stops new reads; {@link #finish()} waits for everything in
 * flight and throws it, so no buffer outlives the reader.
 */
final class ParallelReader {

    /** Does the work on one chunk; the buffer is released after it returns. */
    @FunctionalInterface
    interface ChunkConsumer {
        void accept(long offset, ByteBuf chunk) throws Exception;
    }

    private final DiskSource source;
    private final Executor workers;
    private final int inFlight;
    private final Cancellation cancellation;
    private final ChunkConsumer consumer;
    private final TransferCounters counters;
    private final Semaphore permits;
    private final FirstFailure failure = new FirstFailure();

    ParallelReader(DiskSource source, Executor workers, int inFlight, Cancellation cancellation, TransferCounters counters,
                   ChunkConsumer consumer) {
        this.counters = counters;
        this.source = source;
        this.workers = workers;
        this.inFlight = inFlight;
        this.cancellation = cancellation;
        this.consumer = consumer;
        this.permits = new Semaphore(inFlight);
    }

    /** True once any read or consumer failed: callers stop submitting. */
    boolean failed() {
        return failure.happened();
    }

    /** Reads [offset, offset + length) and consumes it; blocks while {@code inFlight} chunks are out. */
    void submit(long offset, int length) throws InterruptedException {
        submit(offset, length, 1);
    }

    /**
     * Reads [offset, offset + length), {@code chunks} chunks (at most {@code inFlight}) handed to
     * the consumer as one piece of work; blocks until that many of the {@code inFlight} are free.
     */
    void submit(long offset, int length, int chunks) throws InterruptedException {
        if (chunks < 1 || chunks > inFlight) {
            throw new IllegalArgumentException("a piece of work holds 1.." + inFlight + " chunks, got " + chunks);
        }
        cancellation.check();
        long waitStart = System.nanoTime();
        permits.acquire(chunks);
        long issued = System.nanoTime();
        counters.stageTimes(issued - waitStart, 0, 0);
        fetch(offset, length).whenComplete((buf, err) -> {
            counters.stageTimes(0, System.nanoTime() - issued, 0);
            if (err != null) {
                failure.record(err);
                permits.release(chunks);
                return;
            }
            try {
                workers.execute(() -> consume(offset, buf, chunks));
            } catch (RejectedExecutionException e) {
                buf.release();
                failure.record(e);
                permits.release(chunks);
            }
        });
    }

    /** Waits for every chunk in flight, then throws the first failure, if any. */
    void finish() throws IOException {
        permits.acquireUninterruptibly(inFlight);
        permits.release(inFlight);
        failure.rethrow();
    }

    private void consume(long offset, ByteBuf buf, int chunks) {
        long start = System.nanoTime();
        try {
            if (!failure.happened()) {
                consumer.accept(offset, buf);
            }
            counters.stageTimes(0, 0, System.nanoTime() - start);
        } catch (Throwable t) {
            failure.record(t);
        } finally {
            buf.release();
            permits.release(chunks);
        }
    }

    /** One chunk, in as many requests as the source's maximum request size needs. */
    private CompletableFuture<ByteBuf> fetch(long offset, int length) {
        int max = source.blockConstraints().maximum();
        if (length <= max) {
            return source.read(offset, length);
        }
        List<CompletableFuture<ByteBuf>> parts = new ArrayList<>();
        for (int done = 0; done < length; done += max) {
            parts.add(source.read(offset + done, Math.min(max, length - done)));
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).handle((v, err) -> {
            if (err != null) {
                parts.stream().filter(f -> !f.isCompletedExceptionally()).forEach(f -> f.join().release());
                throw err instanceof CompletionException ce ? ce : new CompletionException(err);
            }
            CompositeByteBuf whole = Unpooled.compositeBuffer(parts.size());
            parts.forEach(f -> whole.addComponent(true, f.join()));
            return whole;
        });
    }

}
