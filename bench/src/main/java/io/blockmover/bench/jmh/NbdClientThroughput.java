package io.blockmover.bench.jmh;

import io.blockmover.mover.transport.nbd.ConnectOptions;
import io.blockmover.mover.transport.nbd.NbdDiskSource;
import io.blockmover.mover.transport.nbd.NbdTuning;
import io.blockmover.mover.transport.nbd.NbdUri;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Not a JMH benchmark but its loopback counterpart for the NBD client: our client (in this
 * JVM, warmed up by three unmeasured runs) and {@code nbdcopy URI null:} read the same
 * export alternately in the same run, so both see the same machine. Exports: nbdkit
 * {@code pattern} over TCP and over TLS (X.509 from a CA directory given as third argument,
 * in nbdkit's layout with the server key in a form GnuTLS reads). Prints MB/s and CPU seconds
 * per GiB of each client, and the ratio of the median rates.
 *
 * <pre>java -cp "bench/target/bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" \
 *     io.blockmover.bench.jmh.NbdClientThroughput [GiB] [runs] [tls-certificates-dir]</pre>
 */
public final class NbdClientThroughput {

    public static void main(String[] args) throws Exception {
        long gib = args.length > 0 ? Long.parseLong(args[0]) : 2;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path pki = args.length > 2 ? Path.of(args[2]) : null;
        compare("TCP", gib, runs, List.of(), "nbd", "");
        if (pki != null) {
            Path caOnly = Files.createTempDirectory("nbd-ca");
            Files.copy(pki.resolve("ca-cert.pem"), caOnly.resolve("ca-cert.pem"));
            compare("TLS", gib, runs, List.of("--tls=require", "--tls-certificates=" + pki), "nbds",
                    "?tls-certificates=" + caOnly);
        }
    }

    private static void compare(String name, long gib, int runs, List<String> kitArgs, String scheme, String query)
            throws Exception {
        int port = Harness.freePort();
        List<String> cmd = new ArrayList<>(List.of("nbdkit", "-f", "-r", "-p", Integer.toString(port), "-i", "127.0.0.1"));
        cmd.addAll(kitArgs);
        cmd.addAll(List.of("pattern", gib + "G"));
        Process kit = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            Harness.awaitPort(port);
            String uri = scheme + "://127.0.0.1:" + port + "/" + query;
            long size = gib << 30;
            for (int i = 0; i < 3; i++) {
                ours(uri); // warm-up: C2 needs a few GiB to compile the read path (and AES-GCM)
            }
            double[] ourRates = new double[runs];
            double[] theirRates = new double[runs];
            for (int i = 0; i < runs; i++) {
                long cpu0 = ownCpuNanos();
                long t0 = System.nanoTime();
                ours(uri);
                ourRates[i] = size / ((System.nanoTime() - t0) / 1e9) / 1e6;
                double ourCpu = (ownCpuNanos() - cpu0) / 1e9 / gib;
                double[] theirs = nbdcopy(uri, size);
                theirRates[i] = theirs[0];
                System.out.printf("%s run %d: blockmover %.0f MB/s (%.2f CPU s/GiB), nbdcopy %.0f MB/s (%.2f CPU s/GiB)%n",
                        name, i + 1, ourRates[i], ourCpu, theirs[0], theirs[1] / gib);
            }
            double a = Harness.median(ourRates);
            double b = Harness.median(theirRates);
            System.out.printf("%s median: blockmover %.0f MB/s, nbdcopy %.0f MB/s, ratio %.2f (%d x %d KiB in flight, %d connections)%n",
                    name, a, b, a / b, NbdTuning.DEFAULT_REQUESTS_IN_FLIGHT, NbdTuning.DEFAULT_REQUEST_SIZE >> 10,
                    NbdTuning.DEFAULT_CONNECTIONS);
        } finally {
            kit.destroy();
            kit.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /** What {@code nbd-copy URI null:} does with the default tuning. */
    private static void ours(String uri) throws Exception {
        try (NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(uri), ConnectOptions.DEFAULT)) {
            int size = s.blockConstraints().requestSize(NbdTuning.DEFAULT_REQUEST_SIZE);
            Semaphore slots = new Semaphore(NbdTuning.DEFAULT_REQUESTS_IN_FLIGHT);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            for (long at = 0; at < s.capacity() && failure.get() == null; at += size) {
                slots.acquire();
                s.read(at, (int) Math.min(size, s.capacity() - at)).whenComplete((buf, err) -> {
                    if (err != null) {
                        failure.compareAndSet(null, err);
                    } else {
                        buf.release();
                    }
                    slots.release();
                });
            }
            slots.acquire(NbdTuning.DEFAULT_REQUESTS_IN_FLIGHT);
            if (failure.get() != null) {
                throw new IOException("read failed", failure.get());
            }
        }
    }

    /** MB/s and CPU seconds of one {@code nbdcopy URI null:}. */
    private static double[] nbdcopy(String uri, long size) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder("nbdcopy", uri, "null:").inheritIO().start();
        ProcessHandle h = p.toHandle();
        long[] cpu = {0};
        // The CPU time is only readable while the process exists: sample until it ends.
        while (!p.waitFor(20, TimeUnit.MILLISECONDS)) {
            h.info().totalCpuDuration().ifPresent(d -> cpu[0] = d.toNanos());
        }
        if (p.exitValue() != 0) {
            throw new IOException("nbdcopy " + uri + " failed");
        }
        return new double[] {size / ((System.nanoTime() - t0) / 1e9) / 1e6, cpu[0] / 1e9};
    }

    private static long ownCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

}
