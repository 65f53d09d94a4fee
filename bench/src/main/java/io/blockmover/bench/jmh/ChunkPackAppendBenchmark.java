package io.blockmover.bench.jmh;

import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.pack.LocalPackStore;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.pack.PackWriter;

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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Appending one encoded 1 MiB record (header + payload, one gathering write) to a pack file, and
 * sealing (footer + fsync) every 64 records as a 64 MiB pack would. Ops are records. On tmpfs by
 * default, like {@link ChunkIngestBenchmark}: this is the CPU cost of framing and copying.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 1, time = 3)
@Measurement(iterations = 3, time = 3)
public class ChunkPackAppendBenchmark {
    private static final int CHUNK = 1 << 20;
    private Path dir;
    private LocalPackStore store;
    private PackWriter pack;
    private ChunkCodec codec;
    private ChunkId id;
    private ByteBuffer plain;
    private long packs;

    @Setup(Level.Iteration)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory(ChunkIngestBenchmark.benchDir(), "bm-pack");
        store = new LocalPackStore(dir);
        codec = new ChunkCodec(CHUNK, 1, null);
        plain = ByteBuffer.allocateDirect(CHUNK);
        SplittableRandom r = new SplittableRandom(3);
        while (plain.hasRemaining()) {
            plain.putLong(r.nextLong());
        }
        plain.flip();
        id = codec.digest(plain);
        pack = PackWriter.create(store, ++packs);
    }

    @TearDown(Level.Iteration)
    public void tearDown() throws Exception {
        pack.seal();
        store.close();
        codec.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Benchmark
    public void append() throws Exception {
        ByteBuffer[] record = PackRecords.frameChunk(id, codec.encode(id, plain));
        pack.append(id, record);
        if (pack.count() == 64) {
            pack.seal();
            store.delete(pack.packId());
            pack = PackWriter.create(store, ++packs);
        }
    }
}
