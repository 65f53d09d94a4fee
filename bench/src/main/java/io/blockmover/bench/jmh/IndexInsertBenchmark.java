package io.blockmover.bench.jmh;

import io.blockmover.index.db.IndexDb;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.rocksdb.WriteBatch;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Index inserts as a sealed pack publishes them: one unsynced batch of the pack's chunk
 * locations (a 64 MiB pack of 256 KiB chunks holds 256). The index grows through the run, as
 * it does while a large backup ingests. Report as inserts/s: 256 × ops/s.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 1, time = 3)
@Measurement(iterations = 3, time = 3)
public class IndexInsertBenchmark {
    private static final int PER_PACK = 256;

    private Path dir;
    private IndexDb db;
    private final SplittableRandom random = new SplittableRandom(11);
    private final byte[] value = new ChunkLocation(1, 0, 1 << 18, 1 << 18, 0).encode();
    private final ByteBuffer key = ByteBuffer.allocate(ChunkId.LENGTH);

    @Setup
    public void open() throws Exception {
        dir = Files.createTempDirectory("index-insert-bench");
        db = IndexDb.open(dir.resolve("db"), 1);
    }

    @TearDown
    public void close() throws Exception {
        db.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }

    @Benchmark
    public void publishPack() {
        try (WriteBatch batch = new WriteBatch()) {
            for (int i = 0; i < PER_PACK; i++) {
                key.clear();
                key.putLong(random.nextLong()).putLong(random.nextLong()).putLong(random.nextLong()).putLong(random.nextLong());
                batch.put(db.chunks(), key.array(), value);
            }
            db.write(batch, false);
        } catch (org.rocksdb.RocksDBException e) {
            throw new IllegalStateException(e);
        }
    }
}
