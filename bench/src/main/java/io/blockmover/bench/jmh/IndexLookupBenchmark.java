package io.blockmover.bench.jmh;

import io.blockmover.index.db.IndexDb;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.repo.RepositoryConfig;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.rocksdb.FlushOptions;
import org.rocksdb.WriteBatch;

/**
 * Dedup lookups in the chunks column family of an index holding {@code entries} chunks (the
 * index of a 10 TB repository at 1 MiB chunks with 10 M), with the repository's own RocksDB
 * settings (64 MiB block cache, bloom filters). {@code hit}: a chunk that exists (a duplicate);
 * {@code miss}: one that does not (a new chunk). The index is built in the trial setup.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 1, time = 5)
@Measurement(iterations = 3, time = 5)
public class IndexLookupBenchmark {
    @Param({"10000000"})
    public int entries;

    private Path dir;
    private IndexDb db;

    @State(Scope.Thread)
    public static class Cursor {
        final byte[] scratch = new byte[ChunkLocation.ENCODED];
        final SplittableRandom r = new SplittableRandom(7);
    }

    static ChunkId key(long i, long salt) {
        SplittableRandom r = new SplittableRandom(i * 31 + salt);
        return ChunkId.wrap(ByteBuffer.allocate(32).putLong(r.nextLong()).putLong(r.nextLong()).putLong(r.nextLong())
                .putLong(r.nextLong()).array());
    }

    /**
     * Builds the index once into {@code java.io.tmpdir/blockmover-index-bench-<entries>} and reuses it
     * in the next fork (each benchmark method runs in its own JVM); delete that directory afterwards.
     */
    @Setup(Level.Trial)
    public void build() throws Exception {
        dir = Path.of(System.getProperty("java.io.tmpdir"), "blockmover-index-bench-" + entries);
        db = openOrBuild(dir, entries, true);
    }

    /**
     * Opens the cached benchmark index in {@code dir}, building it first if it is not complete:
     * {@code compact} compacts it by hand into the last level; else it stays as RocksDB's background
     * compactions leave it once they are done (several levels, like the index of a live repository).
     */
    static IndexDb openOrBuild(Path dir, int entries, boolean compact) throws Exception {
        IndexDb db;
        Path complete = dir.resolve("COMPLETE");
        if (!Files.exists(complete)) {
            deleteTree(dir);
            Files.createDirectories(dir);
        }
        db = IndexDb.open(dir.resolve("db"), RepositoryConfig.FORMAT_VERSION);
        if (Files.exists(complete)) {
            System.out.printf("%n[reusing the index of %,d chunks in %s]%n", entries, dir);
            return db;
        }
        long t0 = System.nanoTime();
        byte[] value = new ChunkLocation(1, 0, 1 << 20, 1 << 20, 0).encode();
        WriteBatch batch = new WriteBatch();
        for (long i = 0; i < entries; i++) {
            batch.put(db.chunks(), key(i, 0).bytes(), value);
            if (batch.count() == 100_000) {
                db.write(batch, false);
                batch.close();
                batch = new WriteBatch();
            }
        }
        db.write(batch, true);
        batch.close();
        if (compact) {
            db.flushAndCompact();
        } else {
            try (FlushOptions f = new FlushOptions().setWaitForFlush(true)) {
                db.rocks().flush(f, db.chunks());
            }
            while (!"0".equals(db.rocks().getProperty(db.chunks(), "rocksdb.num-running-compactions"))
                    || !"0".equals(db.rocks().getProperty(db.chunks(), "rocksdb.compaction-pending"))) {
                Thread.sleep(200);
            }
        }
        Files.createFile(complete);
        System.out.printf("%n[index of %,d chunks built%s in %.1f s in %s]%n", entries, compact ? " and compacted" : "",
                (System.nanoTime() - t0) / 1e9, dir);
        return db;
    }

    @TearDown(Level.Trial)
    public void drop() {
        db.close();
    }

    private static void deleteTree(Path p) throws java.io.IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }

    @Benchmark
    public boolean hit(Cursor c) {
        return db.contains(key(c.r.nextInt(entries), 0), c.scratch);
    }

    @Benchmark
    public boolean miss(Cursor c) {
        return db.contains(key(c.r.nextInt(entries), 1), c.scratch);
    }
}
