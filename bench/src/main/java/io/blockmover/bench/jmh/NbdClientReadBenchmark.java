package io.blockmover.bench.jmh;

import io.blockmover.mover.transport.nbd.ConnectOptions;
import io.blockmover.mover.transport.nbd.NbdDiskSource;
import io.blockmover.mover.transport.nbd.NbdUri;
import io.blockmover.nbd.server.BlockDevice;
import io.blockmover.nbd.server.ExportCatalog;
import io.blockmover.nbd.server.Extent;
import io.blockmover.nbd.server.NbdServer;
import io.blockmover.nbd.server.NbdServerConfig;
import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
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

/**
 * The NBD client's read path over loopback: our client reading 64 MiB of an all-data in-memory
 * export from our server, with {@code inFlight} requests of {@code requestSize} outstanding.
 * One op is 64 MiB; MB/s = ops/s x 67.1. Client and server share the machine, so this bounds
 * the pair; {@link NbdClientThroughput} compares the client with nbdcopy on nbdkit.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
public class NbdClientReadBenchmark {
    private static final long SPAN = 64L << 20;
    private static final int PAGE = 64 * 1024;

    @Param({"262144", "524288", "1048576"})
    int requestSize;

    @Param({"8", "32"})
    int inFlight;

    private NbdServer server;
    private NbdDiskSource source;
    private long next;

    /** 1 GiB whose pages cycle through 64 random ones: data everywhere, no holes to skip. */
    private record AllData(long size, byte[][] pages) implements BlockDevice {
        public boolean isReadOnly() {
            return true;
        }

        public void read(long offset, int length, ByteBuf dst) {
            long pos = offset;
            while (pos < offset + length) {
                int in = (int) (pos % PAGE);
                int n = (int) Math.min(PAGE - in, offset + length - pos);
                dst.writeBytes(pages[(int) ((pos / PAGE) & 63)], in, n);
                pos += n;
            }
        }

        public void write(long offset, ByteBuf src) throws IOException {
            throw new IOException("read-only");
        }

        public void writeZeroes(long offset, long length, boolean mayPunchHole) throws IOException {
            throw new IOException("read-only");
        }

        public void trim(long offset, long length) throws IOException {
            throw new IOException("read-only");
        }

        public void flush() {
        }

        public List<Extent> extents(long offset, long length) {
            return List.of(new Extent(length, 0));
        }
    }

    @Setup(Level.Trial)
    public void start() throws IOException {
        SplittableRandom random = new SplittableRandom(3);
        byte[][] pages = new byte[64][PAGE];
        for (byte[] p : pages) {
            random.nextBytes(p);
        }
        ExportCatalog.Export export = new ExportCatalog.Export("x", "all data", new AllData(1L << 30, pages));
        server = NbdServer.start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)), new ExportCatalog() {
            public Optional<Export> find(String name) {
                return Optional.of(export);
            }

            public List<Export> list() {
                return List.of(export);
            }
        });
        source = NbdDiskSource.open(NbdUri.parse("nbd://127.0.0.1:" + server.localAddress().getPort() + "/x"),
                ConnectOptions.DEFAULT);
    }

    @TearDown(Level.Trial)
    public void stop() {
        source.close();
        server.close();
    }

    @Benchmark
    public long read64MiB() throws Exception {
        long start = next;
        next = (next + SPAN) % source.capacity();
        Semaphore slots = new Semaphore(inFlight);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (long at = start; at < start + SPAN; at += requestSize) {
            slots.acquire();
            source.read(at, requestSize).whenComplete((buf, err) -> {
                if (err != null) {
                    failure.compareAndSet(null, err);
                } else {
                    buf.release();
                }
                slots.release();
            });
        }
        slots.acquire(inFlight);
        if (failure.get() != null) {
            throw new IOException(failure.get());
        }
        return SPAN;
    }
}
