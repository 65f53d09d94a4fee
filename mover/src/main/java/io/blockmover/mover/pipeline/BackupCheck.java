package io.blockmover.mover.pipeline;

import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.format.ChunkDamagedException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.ArrayList;

/**
 * Re-reads every stored chunk of one disk of a backup on all workers, which decompresses,
 * decrypts and checks each chunk's digest, and lists the chunks that fail with their offsets.
 * Unlike a restore it does not stop at the first damaged chunk: the operator learns everything
 * that is wrong in one pass.
 */
public final class BackupCheck {

    /** A chunk that cannot be read back as written, at {@code offset} of the disk. */
    public record Damage(long offset, String reason) {}

    public record Result(long chunksChecked, long bytesChecked, List<Damage> damaged) {
        public boolean ok() {
            return damaged.isEmpty();
        }
    }

    private final DiskReader disk;
    private final ExecutorService workers;
    private final int threads;
    private final Cancellation cancellation;
    private final TransferCounters counters;

    public BackupCheck(DiskReader disk, ExecutorService workers, int threads, Cancellation cancellation, TransferCounters counters) {
        this.disk = disk;
        this.workers = workers;
        this.threads = threads;
        this.cancellation = cancellation;
        this.counters = counters;
    }

    public Result run() throws IOException, InterruptedException {
        int chunkSize = disk.chunkSize();
        long chunks = (disk.capacity() + chunkSize - 1) / chunkSize;
        AtomicLong next = new AtomicLong();
        AtomicLong checked = new AtomicLong();
        AtomicLong bytes = new AtomicLong();
        ConcurrentSkipListMap<Long, String> damaged = new ConcurrentSkipListMap<>();
        List<Future<?>> running = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            running.add(workers.submit(() -> {
                ByteBuffer scratch = ByteBuffer.allocateDirect(chunkSize);
                for (long i = next.getAndIncrement(); i < chunks; i = next.getAndIncrement()) {
                    cancellation.check();
                    long offset = i * chunkSize;
                    int length = (int) Math.min(chunkSize, disk.capacity() - offset);
                    if (disk.isZero(offset)) {
                        counters.skippedZeros(length);
                        continue;
                    }
                    scratch.clear();
                    try {
                        disk.read(offset, scratch);
                    } catch (ChunkDamagedException e) {
                        damaged.put(offset, e.getMessage());
                    }
                    checked.incrementAndGet();
                    bytes.addAndGet(length);
                    counters.completed(length);
                }
                return null;
            }));
        }
        for (Future<?> f : running) {
            try {
                f.get();
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                if (e.getCause() instanceof RuntimeException re) {
                    throw re;
                }
                throw new IOException(e.getCause());
            }
        }
        return new Result(checked.get(), bytes.get(),
                damaged.entrySet().stream().map(e -> new Damage(e.getKey(), e.getValue())).toList());
    }
}
