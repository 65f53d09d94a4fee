package io.blockmover.bench.jmh;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Comparator;
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

/**
 * One core ingesting chunks into a real repository (packs on the local filesystem, RocksDB
 * index), next to the two peers that bound it in the same run: raw SHA-256 of the same bytes and
 * zstd level 1 alone. Ops are chunks; MB/s = ops/s × chunkSize / 10^6.
 *
 * <ul>
 * <li>{@code ingestRandom}: unique incompressible chunks (target ≥ 0.8 × {@code sha256Random})</li>
 * <li>{@code ingestText}: unique compressible chunks (target ≥ 0.8 × {@code zstd1Text})</li>
 * <li>{@code ingestDuplicate}: a chunk the repository already has (target ≥ 2 GB/s)</li>
 * <li>{@code sha256ThenWrite}: the floor of storing new data (hash + one page-cache write)</li>
 * </ul>
 * Each chunk is made unique by a counter in its first 8 bytes, so no generation cost is measured.
 * The repository lives on tmpfs (see {@link #benchDir()}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 3, time = 2)
public class ChunkIngestBenchmark {
    @Param({"1048576"})
    public int chunkSize;

    private static final int VARIANTS = IngestData.VARIANTS;
    private Path dir;
    private Repository repo;
    private BackupWriter writer;
    private DiskWriter disk;
    private ByteBuffer[] random;
    private ByteBuffer[] text;
    private ByteBuffer duplicate;
    private long counter;
    private long chunks;
    private MessageDigest sha;
    private ZstdCompressCtx zstd;
    private ByteBuffer zstdOut;
    private FileChannel floorFile;

    @Setup(Level.Trial)
    public void data() throws Exception {
        IngestData data = IngestData.of(chunkSize);
        random = data.random();
        text = data.text();
        duplicate = data.duplicate();
        sha = MessageDigest.getInstance("SHA-256");
        zstd = new ZstdCompressCtx().setLevel(1);
        zstdOut = ByteBuffer.allocateDirect((int) Zstd.compressBound(chunkSize));
    }

    @Setup(Level.Iteration)
    public void open() throws Exception {
        dir = Files.createTempDirectory(benchDir(), "bm-ingest");
        repo = Repository.init(dir.resolve("repo"), InitOptions.defaults().withChunkSize(chunkSize));
        writer = repo.newBackup(BackupSpec.full("bench", ""));
        long capacity = 1L << 40;
        chunks = capacity / chunkSize;
        disk = writer.addDisk(new DiskSpec("disk0", capacity, ""));
        disk.put(0, duplicate); // stored once; every later put of it is a dedup hit
        floorFile = FileChannel.open(dir.resolve("floor"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    }

    /**
     * tmpfs (/dev/shm) by default: the benchmark measures the CPU cost of ingest, and a pack's fsync
     * on this machine's virtual disk would measure the disk instead (-Dbm.bench.dir to override).
     */
    static Path benchDir() {
        String d = System.getProperty("bm.bench.dir", Files.isDirectory(Path.of("/dev/shm")) ? "/dev/shm" : System.getProperty("java.io.tmpdir"));
        return Path.of(d);
    }

    @TearDown(Level.Iteration)
    public void close() throws Exception {
        writer.abort();
        repo.close();
        floorFile.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @TearDown(Level.Trial)
    public void free() {
        zstd.close();
    }

    private ByteBuffer unique(ByteBuffer[] set) {
        long n = ++counter;
        ByteBuffer b = set[(int) (n % VARIANTS)];
        b.putLong(0, n);
        return b;
    }

    private long offset() {
        return (counter % chunks) * chunkSize;
    }

    @Benchmark
    public byte[] sha256Random() {
        ByteBuffer b = unique(random);
        sha.update(b.duplicate());
        return sha.digest();
    }

    /** The floor for storing new data: hash the chunk and write it once to a plain file (same filesystem). */
    @Benchmark
    public byte[] sha256ThenWrite() throws IOException {
        ByteBuffer b = unique(random);
        sha.update(b.duplicate());
        floorFile.write(b.duplicate());
        if (counter % 64 == 0) {
            floorFile.truncate(0).position(0);
        }
        return sha.digest();
    }

    @Benchmark
    public int zstd1Text() {
        ByteBuffer b = unique(text);
        return zstd.compressDirectByteBuffer(zstdOut, 0, zstdOut.capacity(), b, 0, b.remaining());
    }

    @Benchmark
    public void ingestRandom() throws IOException {
        ByteBuffer b = unique(random);
        disk.put(offset(), b);
    }

    @Benchmark
    public void ingestText() throws IOException {
        ByteBuffer b = unique(text);
        disk.put(offset(), b);
    }

    @Benchmark
    public void ingestDuplicate() throws IOException {
        counter++;
        disk.put(offset(), duplicate);
    }
}
