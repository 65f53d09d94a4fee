package io.blockmover.bench.jmh;

import io.blockmover.index.chunk.ChunkId;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.pack.ChunkLocation;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * {@link IndexLookupBenchmark}'s lookups counted per CPU-second of the looking-up thread rather than
 * per wall-clock second: on a machine shared by many busy processes that is the per-core figure.
 * Keys are generated before timing. Run: {@code java -cp ... io.blockmover.bench.jmh.IndexLookupCpu [entries] [rounds]}.
 */
public final class IndexLookupCpu {
    private IndexLookupCpu() {
    }

    public static void main(String[] args) throws Exception {
        int entries = args.length > 0 ? Integer.parseInt(args[0]) : 10_000_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        int perRound = 200_000;
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "blockmover-index-bench-" + entries);
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        try (IndexDb db = IndexLookupBenchmark.openOrBuild(dir, entries)) {
            byte[] scratch = new byte[ChunkLocation.ENCODED];
            SplittableRandom r = new SplittableRandom(11);
            double[][] rates = new double[2][rounds];
            double[][] wall = new double[2][rounds];
            for (int round = -2; round < rounds; round++) { // two warm-up rounds
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
            System.out.printf("index of %,d chunks, %d rounds of %,d lookups, one thread%n", entries, rounds, perRound);
            String[] names = {"hit", "miss"};
            for (int kind = 0; kind < 2; kind++) {
                System.out.printf("  %-5s median %,9.0f lookups per CPU-second   (%,9.0f per wall-clock second)%n",
                        names[kind], median(rates[kind]), median(wall[kind]));
            }
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
