package io.blockmover.bench.jmh;

import io.blockmover.index.db.IndexDb;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * {@link IndexLookupBenchmark}'s lookups counted per CPU-second of the looking-up thread rather than
 * per wall-clock second: on a machine shared by many busy processes that is the per-core figure.
 * Keys are generated before timing. The peer, interleaved round by round, is the machine's own
 * limit: dependent random reads (a pointer chase) over off-heap memory as large as the index's
 * tables, since a lookup of an existing chunk among 10 M is a chain of such reads (bloom filter,
 * hash index, row) that no cache of bounded size avoids.
 * It also prints the memory the open index holds: the growth of the process's anonymous resident
 * memory from before the open to after the lookups, less the peer's region (RocksDB's table
 * readers, filters, indexes, memtables and caches, plus some compiled code and class metadata;
 * the heap is all resident from the start with {@code -Xms} = {@code -Xmx} and
 * {@code -XX:+AlwaysPreTouch}), and the resident file pages (the mmapped tables).
 * With {@code live} the index is not compacted by hand but left as background compactions leave
 * it (several levels and an L0 file or two, as in a repository being written), which a hit pays
 * with one more bloom probe per level above the key's.
 * Run: {@code java -Xms1g -Xmx1g -XX:+AlwaysPreTouch -cp ... io.blockmover.bench.jmh.IndexLookupCpu [entries] [rounds] [live]}.
 */
public final class IndexLookupCpu {
    private IndexLookupCpu() {
    }

    public static void main(String[] args) throws Exception {
        int entries = args.length > 0 ? Integer.parseInt(args[0]) : 10_000_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        int perRound = 200_000;
        boolean live = args.length > 2 && args[2].equals("live");
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "blockmover-index-bench-" + entries + (live ? "-live" : ""));
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        boolean reused = java.nio.file.Files.exists(dir.resolve("COMPLETE"));
        long anonBefore = residentKiB("RssAnon:");
        try (IndexDb db = IndexLookupBenchmark.openOrBuild(dir, entries, !live)) {
            byte[] scratch = new byte[ChunkLocation.ENCODED];
            SplittableRandom r = new SplittableRandom(11);
            double[][] rates = new double[2][rounds];
            double[][] wall = new double[2][rounds];
            double[] memNanos = new double[rounds];
            long tableBytes = tableBytes(dir);
            PointerChase chase = new PointerChase(tableBytes);
            for (int round = -2; round < rounds; round++) { // two warm-up rounds
                long cpuChase = mx.getCurrentThreadCpuTime();
                chase.run(perRound);
                if (round >= 0) {
                    memNanos[round] = (mx.getCurrentThreadCpuTime() - cpuChase) / (double) perRound;
                }
                for (int kind = 0; kind < 2; kind++) {
                    ChunkId[] keys = new ChunkId[perRound];
                    for (int i = 0; i < perRound; i++) {
                        keys[i] = IndexLookupBenchmark.key(r.nextInt(entries), kind);
                    }
                    long found = 0;
                    long cpu0 = mx.getCurrentThreadCpuTime();
                    long wall0 = System.nanoTime();
                    for (ChunkId k : keys) {
                        if (db.contains(k, scratch)) {
                            found++;
                        }
                    }
                    long cpu = mx.getCurrentThreadCpuTime() - cpu0;
                    long w = System.nanoTime() - wall0;
                    if (found != (kind == 0 ? perRound : found) || (kind == 1 && found > perRound / 20)) {
                        throw new IllegalStateException("lookups returned " + found + " hits for kind " + kind);
                    }
                    if (round >= 0) {
                        rates[kind][round] = perRound / (cpu / 1e9);
                        wall[kind][round] = perRound / (w / 1e9);
                    }
                }
            }
            StringBuilder levels = new StringBuilder();
            for (int l = 0; l < 7; l++) {
                levels.append(" L").append(l).append(':').append(db.rocks().getProperty(db.chunks(), "rocksdb.num-files-at-level" + l));
            }
            System.out.printf("index of %,d chunks (table files per level:%s), %d rounds of %,d lookups, one thread%n",
                    entries, levels, rounds, perRound);
            String[] names = {"hit", "miss"};
            for (int kind = 0; kind < 2; kind++) {
                System.out.printf("  %-5s median %,9.0f lookups per CPU-second   (%,9.0f per wall-clock second)%n",
                        names[kind], median(rates[kind]), median(wall[kind]));
            }
            double mem = median(memNanos);
            System.out.printf("  peer: one dependent random read in %,d MiB (the tables' size) takes %.0f ns (CPU);"
                    + " a hit costs as much as %.1f of them%n", tableBytes >> 20, mem, 1e9 / median(rates[0]) / mem);
            long anonGrowth = ((residentKiB("RssAnon:") - anonBefore) << 10) - chase.bytes();
            System.out.printf("  memory: anonymous resident memory grew by %,d MiB (%.1f bytes per chunk) from before the open"
                    + " (less the peer's region)%s;"
                    + " %,d MiB of file pages resident (the mmapped tables)%n", anonGrowth >> 20, anonGrowth / (double) entries,
                    reused ? "" : " (includes building the index: rerun for the figure)", residentKiB("RssFile:") >> 10);
            chase.close();
        }
    }

    private static long tableBytes(Path dir) throws java.io.IOException {
        try (java.util.stream.Stream<Path> s = java.nio.file.Files.walk(dir)) {
            return s.filter(p -> p.toString().endsWith(".sst")).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    /** A random cyclic walk over the 64-byte lines of an off-heap region: every read depends on the one before. */
    private static final class PointerChase implements AutoCloseable {
        private final java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined();
        private final java.lang.foreign.MemorySegment lines;
        private long at;
        private long sink;

        PointerChase(long bytes) {
            long count = Math.max(2, bytes / 64);
            lines = arena.allocate(count * 64, 4096);
            long[] order = new long[(int) count];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            SplittableRandom r = new SplittableRandom(3);
            for (int i = order.length - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                long t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            for (int i = 0; i < order.length; i++) {
                lines.set(java.lang.foreign.ValueLayout.JAVA_LONG, order[i] * 64, order[(i + 1) % order.length] * 64);
            }
        }

        long bytes() {
            return lines.byteSize();
        }

        void run(int steps) {
            long p = at;
            for (int i = 0; i < steps; i++) {
                p = lines.get(java.lang.foreign.ValueLayout.JAVA_LONG, p);
            }
            at = p;
            sink += p;
        }

        @Override
        public void close() {
            if (sink == 42) {
                System.out.print("");
            }
            arena.close();
        }
    }

    /** A line of /proc/self/status, in KiB. */
    private static long residentKiB(String field) throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field)) {
                return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
            }
        }
        throw new IllegalStateException("no " + field + " in /proc/self/status");
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
