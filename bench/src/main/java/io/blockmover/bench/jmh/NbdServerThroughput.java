package io.blockmover.bench.jmh;

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
import java.util.concurrent.TimeUnit;

/**
 * Not a JMH benchmark but its loopback counterpart: {@code nbdcopy EXPORT null:} against our
 * server serving an all-data in-memory export, and against {@code nbdkit pattern} of the same
 * size, alternating in the same run so both see the same machine. Prints MB/s and the servers'
 * CPU seconds per GiB for each run (the CPU figure is meaningful even on a busy machine), and
 * the ratio of the median rates.
 *
 * <pre>java -cp "bench/target/bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" \
 *     io.blockmover.bench.jmh.NbdServerThroughput [GiB] [runs]</pre>
 */
public final class NbdServerThroughput {
    private static final int PAGE = 64 * 1024;

    /** Every page is one of 256 pre-filled random pages: data everywhere, like a full disk, in 16 MiB. */
    private record AllDataDevice(long size, byte[][] pages) implements BlockDevice {
        static AllDataDevice of(long size) {
            SplittableRandom random = new SplittableRandom(1);
            byte[][] pages = new byte[256][PAGE];
            for (byte[] p : pages) {
                random.nextBytes(p);
            }
            return new AllDataDevice(size, pages);
        }

        public boolean isReadOnly() {
            return true;
        }

        public void read(long offset, int length, ByteBuf dst) {
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                int in = (int) (pos % PAGE);
                int n = (int) Math.min(PAGE - in, end - pos);
                dst.writeBytes(pages[(int) ((pos / PAGE) & 255)], in, n);
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
            return List.of(new Extent(Math.min(length, size - offset), 0));
        }
    }

    private record Catalog(ExportCatalog.Export export) implements ExportCatalog {
        public Optional<Export> find(String name) {
            return name.isEmpty() || name.equals(export.name()) ? Optional.of(export) : Optional.empty();
        }

        public List<Export> list() {
            return List.of(export);
        }
    }

    public static void main(String[] args) throws Exception {
        long gib = args.length > 0 ? Long.parseLong(args[0]) : 2;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        long size = gib << 30;
        double[] ours = new double[runs];
        double[] nbdkit = new double[runs];
        try (NbdServer server = NbdServer.start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)),
                new Catalog(new ExportCatalog.Export("x", "all data", AllDataDevice.of(size))))) {
            int port = Harness.freePort();
            Process kit = new ProcessBuilder("nbdkit", "-f", "-r", "-p", Integer.toString(port), "-i", "127.0.0.1",
                    "pattern", gib + "G").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                Harness.awaitPort(port);
                String oursUri = "nbd://127.0.0.1:" + server.localAddress().getPort() + "/x";
                String kitUri = "nbd://127.0.0.1:" + port + "/";
                for (int i = 0; i < 3; i++) {
                    nbdcopy(oursUri, size); // warm up the JIT and the buffer pools
                }
                nbdcopy(kitUri, size);
                for (int i = 0; i < runs; i++) {
                    long cpu0 = ownCpuNanos();
                    ours[i] = nbdcopy(oursUri, size);
                    double oursCpu = (ownCpuNanos() - cpu0) / 1e9 / gib;
                    long kit0 = kit.info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L);
                    nbdkit[i] = nbdcopy(kitUri, size);
                    double kitCpu = (kit.info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L) - kit0) / 1e9 / gib;
                    System.out.printf("run %d: blockmover %.0f MB/s (%.2f CPU s/GiB), nbdkit pattern %.0f MB/s (%.2f CPU s/GiB)%n",
                            i + 1, ours[i], oursCpu, nbdkit[i], kitCpu);
                }
            } finally {
                kit.destroy();
                kit.waitFor(5, TimeUnit.SECONDS);
            }
        }
        double a = Harness.median(ours);
        double b = Harness.median(nbdkit);
        System.out.printf("median: blockmover %.0f MB/s, nbdkit pattern %.0f MB/s, ratio %.2f%n", a, b, a / b);
    }

    private static double nbdcopy(String uri, long size) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder("nbdcopy", uri, "null:").inheritIO().start();
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("nbdcopy " + uri + " failed");
        }
        return size / ((System.nanoTime() - t0) / 1e9) / 1e6;
    }

    /** CPU time of this JVM (the server's event loops and workers), in nanoseconds. */
    private static long ownCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

}
