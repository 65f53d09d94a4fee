package io.blockmover.bench.jmh;

import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.ImageContent;
import io.blockmover.nbd.esx.Profile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Not a JMH benchmark but its loopback counterpart: {@code nbdcopy EXPORT null:} against the
 * emulated ESX host serving a fully allocated disk of random generated data, optionally a raw
 * image file as a disk ({@code esxsim --image}), and {@code nbdkit pattern} of the same size,
 * alternating in the same run so all see the same machine. Prints MB/s and each server's CPU
 * seconds per GiB for every run (the CPU figure is meaningful even on a busy machine), and the
 * ratio of the median rates to nbdkit's.
 *
 * <pre>java -cp "bench/target/bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" \
 *     io.blockmover.bench.jmh.NbdServerThroughput [GiB] [runs] [image.raw]</pre>
 */
public final class NbdServerThroughput {

    /** One server under test: where nbdcopy reads, and how to read its CPU time. */
    private record Server(String name, String uri, CpuClock cpu) {}

    @FunctionalInterface
    private interface CpuClock {
        long nanos();
    }

    public static void main(String[] args) throws Exception {
        long gib = args.length > 0 ? Long.parseLong(args[0]) : 2;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path image = args.length > 2 ? Path.of(args[2]) : null;
        long size = gib << 30;
        try (EsxSimulator esx = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(7, 1, 1, size, Profile.RANDOM, true)));
             ImageContent content = image == null ? null : ImageContent.open(image)) {
            String base = "nbd://127.0.0.1:" + esx.nbdAddress().getPort() + "/";
            List<Server> servers = new ArrayList<>();
            servers.add(new Server("esxsim random", base + "vm01/disk-2000", NbdServerThroughput::ownCpuNanos));
            if (content != null) {
                esx.host().addImageVm("image", content);
                servers.add(new Server("esxsim image", base + "image/disk-2000", NbdServerThroughput::ownCpuNanos));
            }
            int port = Harness.freePort();
            Process kit = new ProcessBuilder("nbdkit", "-f", "-r", "-p", Integer.toString(port), "-i", "127.0.0.1",
                    "pattern", gib + "G").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                Harness.awaitPort(port);
                servers.add(new Server("nbdkit pattern", "nbd://127.0.0.1:" + port + "/",
                        () -> kit.info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L)));
                run(servers, runs, size, content == null ? size : Files.size(image));
            } finally {
                kit.destroy();
                kit.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    private static void run(List<Server> servers, int runs, long size, long imageSize) throws Exception {
        for (Server s : servers) {
            // warms the JIT and the buffer pools (nbdkit, in C, gains nothing from it)
            int warmups = s.name().startsWith("esxsim") ? 3 : 1;
            for (int i = 0; i < warmups; i++) {
                nbdcopy(s.uri(), size);
            }
        }
        double[][] rates = new double[servers.size()][runs];
        for (int r = 0; r < runs; r++) {
            StringBuilder line = new StringBuilder("run " + (r + 1) + ":");
            for (int k = 0; k < servers.size(); k++) {
                Server s = servers.get(k);
                long bytes = s.name().equals("esxsim image") ? imageSize : size;
                long cpu0 = s.cpu().nanos();
                rates[k][r] = nbdcopy(s.uri(), bytes);
                double cpu = (s.cpu().nanos() - cpu0) / 1e9 / (bytes / (double) (1L << 30));
                line.append(String.format(Locale.ROOT, "  %s %.0f MB/s (%.2f CPU s/GiB)", s.name(), rates[k][r], cpu));
            }
            System.out.println(line);
        }
        double peer = Harness.median(rates[servers.size() - 1]);
        StringBuilder summary = new StringBuilder("median:");
        for (int k = 0; k < servers.size(); k++) {
            double m = Harness.median(rates[k]);
            summary.append(String.format(Locale.ROOT, "  %s %.0f MB/s (%.2fx nbdkit)", servers.get(k).name(), m, m / peer));
        }
        System.out.println(summary);
    }

    private static double nbdcopy(String uri, long bytes) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder("nbdcopy", uri, "null:").inheritIO().start();
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("nbdcopy " + uri + " failed");
        }
        return bytes / ((System.nanoTime() - t0) / 1e9) / 1e6;
    }

    /** CPU time of this JVM (the emulator's event loops), in nanoseconds. */
    private static long ownCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }
}
