package io.blockmover.bench.jmh;

import io.blockmover.index.chunk.ChunkCodec;
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

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * Zero detection, which every read chunk passes before hashing: a zero chunk must cost a
 * fraction of a hash (it is scanned to the end), a data chunk almost nothing (it fails on the
 * first word). Report as MB/s: 256 KiB / time per op.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class ZeroDetectionBenchmark {
    private static final int CHUNK = 256 << 10;

    private ChunkCodec codec;
    private ByteBuffer zeros;
    private ByteBuffer data;

    @Setup
    public void setUp() {
        codec = new ChunkCodec(CHUNK, 1, null);
        zeros = ByteBuffer.allocateDirect(CHUNK);
        data = ByteBuffer.allocateDirect(CHUNK);
        data.put(0, (byte) 1);
    }

    @TearDown
    public void tearDown() {
        codec.close();
    }

    @Benchmark
    public boolean zeroChunk() {
        return codec.isZero(zeros);
    }

    @Benchmark
    public boolean dataChunk() {
        return codec.isZero(data);
    }
}
