package io.blockmover.bench.jmh;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The ratios of {@link ChunkIngestBenchmark} measured robustly on a shared, busy machine: short
 * slices of each workload are interleaved round after round on one thread, so a peer and the
 * ingest it bounds always see the same load, and the median of the per-round ratios is reported.
 * {@code sha256+write} hashes each chunk and writes it to a plain file (O_DIRECT when the pack
 * store writes so): the floor for storing new data, since the kernel's page-cache write of a MiB
 * costs a large fraction of hashing it here.
 * Each figure is given per wall-clock second and per CPU-second of the one working thread (the
 * per-core figure: on a disk, a direct write waits for the device without using the CPU; a
 * buffered one leaves write-back to kernel threads, which is not counted).
 * The repository lives on tmpfs unless {@code -Dbm.bench.dir=DIR} names another filesystem.
 * Run: {@code java -cp ... io.blockmover.bench.jmh.ChunkIngestRatio [chunkSize] [rounds] [sliceMillis]}.
 */
public final class ChunkIngestRatio {
    private static final int VARIANTS = IngestData.VARIANTS;
    private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();
    private static final String[] NAMES = {"sha256", "ingestRandom", "zstd1", "ingestText", "ingestDuplicate", "sha256+write"};

    private final int chunkSize;
    private final ByteBuffer[] random;
    private final ByteBuffer[] text;
    private final ByteBuffer duplicate;
    private final MessageDigest sha = MessageDigest.getInstance("SHA-256");
    private final ZstdCompressCtx zstd = new ZstdCompressCtx().setLevel(1);
    private final ByteBuffer zstdOut;
    private long counter;
    private Path dir;
    private Repository repo;
    private BackupWriter writer;
    private DiskWriter disk;
    private java.nio.channels.FileChannel floorFile;

    private ChunkIngestRatio(int chunkSize) throws Exception {
        this.chunkSize = chunkSize;
        IngestData data = IngestData.of(chunkSize);
        random = data.random();
        text = data.text();
        duplicate = data.duplicate();
        zstdOut = ByteBuffer.allocateDirect((int) Zstd.compressBound(chunkSize));
    }

    public static void main(String[] args) throws Exception {
        int chunkSize = args.length > 0 ? Integer.parseInt(args[0]) : 1 << 20;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        long slice = args.length > 2 ? Long.parseLong(args[2]) : 200;
        ChunkIngestRatio b = new ChunkIngestRatio(chunkSize);
        double[][] mbps = new double[NAMES.length][rounds];
        double[][] cpuMbps = new double[NAMES.length][rounds];
        b.fresh();
        for (int w = 0; w < 2; w++) { // warm-up round, discarded
            for (int k = 0; k < NAMES.length; k++) {
                b.run(k, slice);
            }
        }
        for (int round = 0; round < rounds; round++) {
            if (round % 3 == 0) {
                b.fresh(); // keep tmpfs use bounded
            }
            for (int j = 0; j < NAMES.length; j++) {
                int k = (j + round) % NAMES.length; // rotate the order so no workload always follows another
                double[] r = b.run(k, slice);
                mbps[k][round] = r[0];
                cpuMbps[k][round] = r[1];
            }
        }
        b.close();
        System.out.printf("chunk size %d, %d rounds of %d ms slices, one thread, repository on %s (%s)%n", chunkSize, rounds, slice,
                ChunkIngestBenchmark.benchDir(), Files.getFileStore(ChunkIngestBenchmark.benchDir()).type());
        report("per wall-clock second", mbps);
        report("per CPU-second of the thread", cpuMbps);
    }

    private static void report(String what, double[][] mbps) {
        System.out.println(what + ":");
        for (int k = 0; k < NAMES.length; k++) {
            System.out.printf("  %-16s median %7.0f MB/s  (min %5.0f, max %5.0f)%n", NAMES[k], median(mbps[k]), min(mbps[k]), max(mbps[k]));
        }
        System.out.printf("  ingestRandom / sha256    median ratio %.2f%n", medianRatio(mbps[1], mbps[0]));
        System.out.printf("  ingestText / zstd1       median ratio %.2f%n", medianRatio(mbps[3], mbps[2]));
        System.out.printf("  ingestDuplicate / sha256 median ratio %.2f%n", medianRatio(mbps[4], mbps[0]));
        System.out.printf("  ingestRandom / (sha256+write) median ratio %.2f%n", medianRatio(mbps[1], mbps[5]));
    }

    /** Runs one workload for a slice; returns MB/s per wall-clock second and per CPU-second of this thread. */
    private double[] run(int workload, long millis) throws Exception {
        long end = System.nanoTime() + millis * 1_000_000;
        long start = System.nanoTime();
        long cpuStart = CPU.getCurrentThreadCpuTime();
        long ops = 0;
        long blackhole = 0;
        while (System.nanoTime() < end) {
            for (int i = 0; i < 4; i++) {
                long n = ++counter;
                long offset = (n % ((1L << 40) / chunkSize)) * chunkSize;
                switch (workload) {
                    case 0 -> {
                        ByteBuffer buf = unique(random, n);
                        sha.update(buf.duplicate());
                        blackhole += sha.digest()[0];
                    }
                    case 1 -> disk.put(offset, unique(random, n));
                    case 2 -> {
                        ByteBuffer buf = unique(text, n);
                        blackhole += zstd.compressDirectByteBuffer(zstdOut, 0, zstdOut.capacity(), buf, 0, buf.remaining());
                    }
                    case 3 -> disk.put(offset, unique(text, n));
                    case 4 -> disk.put(offset, duplicate);
                    default -> {
                        // The physical floor of storing new data: hash it and write it to a file once.
                        ByteBuffer buf = unique(random, n);
                        sha.update(buf.duplicate());
                        blackhole += sha.digest()[0];
                        floorFile.write(buf.duplicate());
                        if (n % 64 == 0) {
                            floorFile.truncate(0).position(0);
                        }
                    }
                }
                ops++;
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double cpuSeconds = (CPU.getCurrentThreadCpuTime() - cpuStart) / 1e9;
        if (blackhole == 42) {
            System.out.print("");
        }
        double bytes = ops * (double) chunkSize;
        return new double[] {bytes / seconds / 1e6, bytes / cpuSeconds / 1e6};
    }

    private ByteBuffer unique(ByteBuffer[] set, long n) {
        ByteBuffer b = set[(int) (n % VARIANTS)];
        b.putLong(0, n);
        return b;
    }

    private void fresh() throws Exception {
        close();
        dir = Files.createTempDirectory(ChunkIngestBenchmark.benchDir(), "bm-ratio");
        repo = Repository.init(dir.resolve("repo"), InitOptions.defaults().withChunkSize(chunkSize));
        writer = repo.newBackup(BackupSpec.full("bench", ""));
        disk = writer.addDisk(new DiskSpec("disk0", 1L << 40, ""));
        disk.put(0, duplicate);
        floorFile = openFloor(dir.resolve("floor"));
    }

    /**
     * The floor writes the way the pack store does on this filesystem: O_DIRECT with
     * {@code -Dblockmover.pack.direct=true} unless the filesystem is tmpfs/ramfs or refuses it; the
     * chunk is page-aligned, so the floor never copies it (the store copies records into an
     * aligned staging buffer, as records are not aligned in a pack).
     */
    private static java.nio.channels.FileChannel openFloor(Path file) throws java.io.IOException {
        String type = Files.getFileStore(file.getParent()).type();
        boolean direct = Boolean.getBoolean("blockmover.pack.direct") && !type.equals("tmpfs") && !type.equals("ramfs");
        if (direct) {
            try {
                return java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT);
            } catch (java.io.IOException | UnsupportedOperationException e) {
                Files.deleteIfExists(file);
            }
        }
        return java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
    }

    private void close() throws Exception {
        if (repo == null) {
            return;
        }
        writer.abort();
        repo.close();
        floorFile.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        repo = null;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static double min(double[] v) {
        return Arrays.stream(v).min().orElse(0);
    }

    private static double max(double[] v) {
        return Arrays.stream(v).max().orElse(0);
    }

    private static double medianRatio(double[] a, double[] b) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[i] / b[i];
        }
        return median(r);
    }
}
