package io.blockmover.mover.pipeline;

import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.backup.RunOutcome;
import io.blockmover.mover.transport.DiskSource;
import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.util.concurrent.Executor;

/**
 * Moves one disk from a source into a backup following a {@link ChunkPlan}: holes, zero runs
 * and unchanged runs are recorded without reading; every other chunk is fetched through a
 * {@link ParallelReader} and hashed, deduplicated, compressed and stored on the worker threads
 * (the repository's writer does that work in the calling thread, so it spreads over workers). A
 * piece of work is 1 MiB of consecutive chunks or a frame's worth, whichever is more, read in one
 * request: each worker compresses its own frames and none waits for another's chunks.
 */
public final class DiskBackup {
    private final DiskWriter writer;
    private final TransferCounters counters;
    private final Cancellation cancellation;
    private final ParallelReader reader;
    /**
     * Bytes of consecutive chunks read in one request and stored by one worker, at least: a 128 KiB
     * request per chunk cost the NBD server and our reader per-request work that 1 MiB amortises.
     */
    private static final int PIECE_BYTES = 1 << 20;
    /** Consecutive chunks read and stored as one piece of work: a frame's worth or more, within the memory bound. */
    private final int chunksPerItem;

    public DiskBackup(DiskSource source, DiskWriter writer, Executor workers, int chunksInFlight,
                      TransferCounters counters, Cancellation cancellation) {
        this.writer = writer;
        this.counters = counters;
        this.cancellation = cancellation;
        this.reader = new ParallelReader(source, workers, chunksInFlight, cancellation, counters, this::store);
        // A quarter of the chunks in flight at most, so that several workers always have work.
        int piece = Math.max(writer.frameChunks(), PIECE_BYTES / writer.chunkSize());
        this.chunksPerItem = Math.max(1, Math.min(piece, chunksInFlight / 4));
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
                        long step = (long) plan.chunkSize() * chunksPerItem;
                        for (long at = run.offset(); at < end && !reader.failed(); at += step) {
                            int length = (int) Math.min(step, end - at);
                            reader.submit(at, length, (int) ((length + plan.chunkSize() - 1) / plan.chunkSize()));
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
        if (writer.frameChunks() > 1) {
            // Consecutive chunks, the new ones compressed together in frames.
            RunOutcome r = writer.putRun(offset, DirectView.of(buf));
            if (r.zeroChunks() > 0) {
                counters.zeroChunk(r.zeroBytes());
            }
            if (r.duplicateChunks() > 0) {
                counters.deduplicated(r.duplicateBytes(), r.duplicateChunks());
            }
            if (r.newChunks() > 0) {
                counters.newData(r.newBytes(), r.storedBytes(), r.newChunks());
            }
            return;
        }
        // Each chunk in a record of its own: viewed one by one, a chunk that lies in one socket
        // buffer of the piece is used in place, and only one that straddles two is copied.
        int chunkSize = writer.chunkSize();
        for (int at = 0; at < length; at += chunkSize) {
            int n = Math.min(chunkSize, length - at);
            long outcome = writer.put(offset + at, DirectView.of(buf.slice(buf.readerIndex() + at, n)));
            if (outcome == DiskWriter.ZERO) {
                counters.zeroChunk(n);
            } else if (outcome == DiskWriter.DUPLICATE) {
                counters.deduplicated(n);
            } else {
                counters.newData(n, outcome);
            }
        }
    }
}
