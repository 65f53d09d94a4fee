package io.blockmover.mover.pipeline;

import io.blockmover.index.backup.DiskReader;
import io.blockmover.mover.transport.DiskSource;
import io.blockmover.nbd.units.ByteRange;

import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Executor;

/**
 * Compares a backed-up disk with its source chunk by chunk: every (or a sampled fraction of
 * every) chunk is read from the source, hashed with the repository's digest, and compared with
 * the backup's manifest. This is how an operator catches changed block tracking that silently
 * missed writes: the backup then differs from the very snapshot it was taken from.
 */
public final class SourceComparison {

    /** The outcome: chunks compared and the differing ranges, merged and sorted. */
    public record Result(long chunksCompared, long bytesCompared, List<ByteRange> differences) {
        public boolean identical() {
            return differences.isEmpty();
        }
    }

    private final DiskReader backup;
    private final DiskSource source;
    private final Executor workers;
    private final int chunksInFlight;
    private final Cancellation cancellation;
    private final TransferCounters counters;
    private final ConcurrentSkipListMap<Long, Integer> differing = new ConcurrentSkipListMap<>();

    public SourceComparison(DiskReader backup, DiskSource source, Executor workers,
                            int chunksInFlight, Cancellation cancellation, TransferCounters counters) {
        this.backup = backup;
        this.source = source;
        this.workers = workers;
        this.chunksInFlight = chunksInFlight;
        this.cancellation = cancellation;
        this.counters = counters;
    }

    /**
     * @param sample fraction of chunks to compare, in (0, 1]; the choice is a fixed spread over
     *               the disk (every n-th chunk), so repeated runs compare the same chunks
     */
    public Result run(double sample) throws IOException, InterruptedException {
        if (!(sample > 0 && sample <= 1)) {
            throw new IllegalArgumentException("sample must be in (0, 1]: " + sample);
        }
        if (source.capacity() != backup.capacity()) {
            return new Result(0, 0, List.of(new ByteRange(Math.min(source.capacity(), backup.capacity()),
                    Math.abs(source.capacity() - backup.capacity()))));
        }
        int chunkSize = backup.chunkSize();
        long chunks = (backup.capacity() + chunkSize - 1) / chunkSize;
        long stride = Math.max(1, Math.round(1 / sample));
        ParallelReader reader = new ParallelReader(source, workers, chunksInFlight, cancellation, counters, this::compare);
        long compared = 0;
        long bytes = 0;
        try {
            for (long i = 0; i < chunks && !reader.failed(); i += stride) {
                long offset = i * chunkSize;
                int length = (int) Math.min(chunkSize, backup.capacity() - offset);
                reader.submit(offset, length);
                compared++;
                bytes += length;
            }
        } finally {
            reader.finish();
        }
        return new Result(compared, bytes, merged());
    }

    private void compare(long offset, ByteBuf chunk) {
        int length = chunk.readableBytes();
        boolean same = backup.holds(offset, DirectView.of(chunk));
        counters.read(length);
        counters.completed(length);
        if (!same) {
            differing.put(offset, length);
        }
    }

    private List<ByteRange> merged() {
        List<ByteRange> out = new ArrayList<>();
        differing.forEach((offset, length) -> {
            if (!out.isEmpty() && out.getLast().end() == offset) {
                ByteRange last = out.removeLast();
                out.add(new ByteRange(last.offset(), last.length() + length));
            } else {
                out.add(new ByteRange(offset, length));
            }
        });
        return out;
    }
}
