package io.blockmover.bench.jmh;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * What a repository's frame size costs a reader, per CPU-second of the reading thread (the figure a
 * shared machine disturbs least), on a repository a backup left (read-only, beside nothing):
 * <ul>
 *   <li><b>cold random reads</b>: the chunk under a random 4 KiB read of an exported disk, each
 *       through a fresh disk reader, so the frame is decoded for it alone (read, check, decode up
 *       to the chunk's end, digest): what an export's first 4 KiB read of a chunk costs, without
 *       the network. The offsets are the same for every repository of the same disk (a seed).</li>
 *   <li><b>sequential read</b>: the whole disk chunk by chunk through one reader, as a restore
 *       reads it (each frame decoded once): CPU-seconds per GiB of data chunks.</li>
 * </ul>
 * Pack pages are read once before timing (a first sequential pass), so disk reads do not count.
 * Run: {@code java -cp ... io.blockmover.bench.jmh.FrameReadCost REPO [reads]}; prints one JSON line.
 */
public final class FrameReadCost {
    private FrameReadCost() {
    }

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        int reads = args.length > 1 ? Integer.parseInt(args[1]) : 2000;
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        try (Repository repo = Repository.openReadOnly(root, null)) {
            BackupRecord b = repo.backups().getFirst();
            DiskRecord disk = b.disks().getFirst();
            try (BackupReader r = repo.openBackup(b.id())) {
                DiskReader d = r.disk(disk.diskId());
                List<Long> data = new ArrayList<>();
                for (long off = 0; off < d.capacity(); off += d.chunkSize()) {
                    if (!d.isZero(off)) {
                        data.add(off);
                    }
                }
                ByteBuffer buf = ByteBuffer.allocateDirect(d.chunkSize());
                // Warm the page cache and the JIT, then time a sequential pass.
                sequential(r, disk, data, buf);
                long cpu0 = mx.getCurrentThreadCpuTime();
                long wall0 = System.nanoTime();
                long bytes = sequential(r, disk, data, buf);
                double seqCpu = (mx.getCurrentThreadCpuTime() - cpu0) / 1e9;
                double seqWall = (System.nanoTime() - wall0) / 1e9;

                SplittableRandom random = new SplittableRandom(42);
                long[] cpu = new long[reads];
                for (int i = 0; i < reads; i++) {
                    long off = data.get(random.nextInt(data.size()));
                    DiskReader cold = r.disk(disk.diskId());
                    buf.clear();
                    long c = mx.getCurrentThreadCpuTime();
                    cold.read(off, buf);
                    cpu[i] = mx.getCurrentThreadCpuTime() - c;
                }
                Arrays.sort(cpu);
                double mean = Arrays.stream(cpu).average().orElse(0) / 1e3;
                System.out.printf("{\"repository\": \"%s\", \"frameSize\": %d, \"compression\": \"%s\", \"dataChunks\": %d,"
                                + " \"coldReadCpuMicrosMedian\": %.1f, \"coldReadCpuMicrosP90\": %.1f, \"coldReadCpuMicrosMean\": %.1f,"
                                + " \"sequentialCpuSecondsPerGiB\": %.3f, \"sequentialWallSeconds\": %.2f}%n",
                        root, repo.config().frameSize(), repo.config().compression(), data.size(), cpu[reads / 2] / 1e3,
                        cpu[reads * 9 / 10] / 1e3, mean, seqCpu / (bytes / (double) (1L << 30)), seqWall);
            }
        }
    }

    private static long sequential(BackupReader r, DiskRecord disk, List<Long> data, ByteBuffer buf) throws Exception {
        DiskReader d = r.disk(disk.diskId());
        long bytes = 0;
        for (long off : data) {
            buf.clear();
            bytes += d.readInOrder(off, buf);
        }
        return bytes;
    }
}
