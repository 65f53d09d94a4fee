package io.blockmover.mover.pipeline;

import io.blockmover.index.backup.DiskWriter;
import io.blockmover.mover.transport.DiskSource;
import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.util.concurrent.Executor;

/**
 * Moves one disk from a source into a backup following a {@link ChunkPlan}: holes, zero runs
 * and unchanged runs are recorded without reading; every other chunk is fetched through a
 * {@link ParallelReader} and hashed, deduplicated, compressed and stored on the worker threads
 * (the repository's writer does that work in the calling thread, so it spreads over workers).
 */
public final class DiskBackup {
    private final DiskWriter writer;
    private final TransferCounters counters;
    private final Cancellation cancellation;
    private final ParallelReader reader;

    public DiskBackup(DiskSource source, DiskWriter writer, Executor workers, int chunksInFlight,
                      TransferCounters counters, Cancellation cancellation) {
        this.writer = writer;
        this.counters = counters;
        this.cancellation = cancellation;
        this.reader = new ParallelReader(source, workers, chunksInFlight, cancellation, counters, this::store);
    }

    public void run(ChunkPlan plan) throws IOException, InterruptedException {
        try {
            for (ChunkPlan.Run run : plan.runs()) {
                if (reader.failed()) {
                    break;
                }
                cancellation.check();
                switch (run.action()) {
                    case HOLE -> {
                        writer.putZeros(run.offset(), run.length());
                        counters.skippedHoles(run.length());
                    }
                    case ZERO -> {
                        writer.putZeros(run.offset(), run.length());
                        counters.skippedZeros(run.length());
                    }
                    case REUSE -> {
                        writer.reuse(run.offset(), run.length());
                        counters.reusedFromParent(run.length());
                    }
                    case READ -> {
                        long end = run.offset() + run.length();
                        for (long at = run.offset(); at < end && !reader.failed(); at += plan.chunkSize()) {
                            reader.submit(at, (int) Math.min(plan.chunkSize(), end - at));
                        }
                    }
                }
            }
        } finally {
            reader.finish();
        }
    }

    private void store(long offset, ByteBuf buf) throws IOException {
        int length = buf.readableBytes();
        counters.read(length);
        long outcome = writer.put(offset, DirectView.of(buf));
        if (outcome == DiskWriter.ZERO) {
            counters.zeroChunk(length);
        } else if (outcome == DiskWriter.DUPLICATE) {
            counters.deduplicated(length);
        } else {
            counters.newData(length, outcome);
        }
    }
}
