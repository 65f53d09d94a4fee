package io.blockmover.bench.jmh;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.pipeline.BackupJob;
import io.blockmover.mover.pipeline.Cancellation;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.transport.BlockConstraints;
import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.mover.transport.DiskSource;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
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
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The backup pipeline without a network: a full backup of a 256 MiB in-memory disk into a fresh
 * repository per invocation. Its time against the ingest benchmarks (hash, compress, store
 * alone) shows what the pipeline's own machinery costs: planning, the bounded reader, hand-off
 * to workers, counters and the commit.
 *
 * <p>Report as MB/s: 256 MiB / (seconds per op).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx2g"})
public class PipelineBenchmark {
    private static final int SIZE = 256 << 20;

    /** random: incompressible, unique; text: compressible, unique; duplicate: one chunk repeated. */
    @Param({"random", "text", "duplicate"})
    public String content;

    private byte[] disk;
    private Path dir;
    private Repository repo;

    @Setup(Level.Trial)
    public void makeDisk() {
        disk = new byte[SIZE];
        SplittableRandom r = new SplittableRandom(42);
        switch (content) {
            case "random" -> r.nextBytes(disk);
            case "text" -> {
                String[] words = {"backup ", "restore ", "snapshot ", "the ", "disk ", "chunk ", "of ", "a ", "vm ", "block "};
                int at = 0;
                while (at < SIZE) {
                    byte[] w = words[r.nextInt(words.length)].getBytes();
                    int n = Math.min(w.length, SIZE - at);
                    System.arraycopy(w, 0, disk, at, n);
                    at += n;
                }
            }
            case "duplicate" -> {
                byte[] chunk = new byte[1 << 20];
                r.nextBytes(chunk);
                for (int at = 0; at < SIZE; at += chunk.length) {
                    System.arraycopy(chunk, 0, disk, at, chunk.length);
                }
            }
            default -> throw new IllegalArgumentException(content);
        }
    }

    @Setup(Level.Invocation)
    public void freshRepository() throws IOException {
        dir = Files.createTempDirectory("pipeline-bench");
        repo = Repository.init(dir.resolve("repo"), InitOptions.defaults());
    }

    @TearDown(Level.Invocation)
    public void removeRepository() throws IOException {
        repo.close();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Benchmark
    public long fullBackup() throws Exception {
        return new BackupJob(repo, PipelineSettings.DEFAULT, new Cancellation()).run("vm", "", BackupJob.Mode.FULL,
                List.of(new BackupJob.DiskInput("disk", new MemorySource(disk), "", Optional.empty())), (a, b) -> {}).backupId();
    }

    /** A disk in memory, read into pooled direct buffers as a network transport would deliver it. */
    private record MemorySource(byte[] data) implements DiskSource {
        @Override
        public long capacity() {
            return data.length;
        }

        @Override
        public BlockConstraints blockConstraints() {
            return new BlockConstraints(1, 4096, 32 << 20);
        }

        @Override
        public CompletableFuture<List<DiskExtent>> extents(long offset, long length) {
            return CompletableFuture.completedFuture(List.of(new DiskExtent(offset, length, DiskExtent.Kind.DATA)));
        }

        @Override
        public CompletableFuture<ByteBuf> read(long offset, int length) {
            ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(length);
            buf.writeBytes(data, (int) offset, length);
            return CompletableFuture.completedFuture(buf);
        }

        @Override
        public void close() {
        }
    }
}
