package io.blockmover.mover.cli;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.s3.LockTiming;
import io.blockmover.index.s3.S3ProxyServer;
import io.blockmover.index.s3.S3Repository;
import io.blockmover.index.s3.S3Target;
import io.blockmover.mover.api.v1.BackupEvent;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.BackupResult;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.nbd.testing.FreePorts;
import io.blockmover.nbd.testing.Peers;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Proxies sharing one repository in a real S3 server (s3proxy on loopback): two {@code serve}
 * processes backing up two VMs whose disks share most of their data, and a backup process
 * SIGKILLed in the middle of its uploads.
 */
class S3ProxiesTest {
    private static final Pattern ADDRESS = Pattern.compile("blockmover proxy: grpc 127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern METRICS = Pattern.compile("metrics (http://\\S+/metrics)");
    private static final int MIB = 1 << 20;
    @TempDir
    static Path dir;
    private static S3ProxyServer s3;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3ProxyServer.start(dir.resolve("s3proxy"));
    }

    @AfterAll
    static void stop() throws Exception {
        s3.close();
    }

    private static List<String> s3Args(String bucket, String proxy) {
        return List.of("--repo", "s3://" + bucket + "/repo", "--s3-endpoint", s3.endpoint().toString(),
                "--s3-credentials-file", s3.credentialsFile().toString(), "--s3-retry-budget", "10",
                "--s3-proxy-id", proxy, "--cache-dir", dir.resolve("cache-" + bucket + "-" + proxy).toString());
    }

    /** A raw disk of random 1 MiB blocks, block i seeded by {@code seeds[i]}. */
    private static Path disk(String name, long... seeds) throws Exception {
        Path p = dir.resolve(name + ".raw");
        byte[] block = new byte[MIB];
        try (OutputStream out = Files.newOutputStream(p)) {
            for (long seed : seeds) {
                SplittableRandom r = new SplittableRandom(seed);
                for (int i = 0; i < MIB; i += 8) {
                    long v = r.nextLong();
                    for (int k = 0; k < 8; k++) {
                        block[i + k] = (byte) (v >>> (8 * k));
                    }
                }
                out.write(block);
            }
        }
        return p;
    }

    private static long[] seeds(long from, int count) {
        long[] s = new long[count];
        for (int i = 0; i < count; i++) {
            s[i] = from + i;
        }
        return s;
    }

    private static long[] concat(long[] a, long[] b) {
        long[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static Peers.Peer serveNbd(Path file, int port) {
        return Peers.start(List.of("qemu-nbd", "-r", "-f", "raw", "-b", "127.0.0.1", "-p", Integer.toString(port), "-x", "disk",
                "--persistent", "--shared=8", file.toString()), port, Duration.ofSeconds(30));
    }

    private static Process blockmover(Path log, List<String> args) throws Exception {
        return blockmover(log, List.of(), args);
    }

    private static Process blockmover(Path log, List<String> jvmFlags, List<String> args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // C1 and the serial collector, as KillPipelineTest's children: these processes move a few MiB,
        // and C2's compiler threads and a parallel collector only take the test machine's two cores.
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC"));
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (log != null) {
            pb.redirectOutput(log.toFile());
        }
        return pb.start();
    }

    private record Run(int exit, String out, String err) {}

    private static synchronized Run cli(List<String> args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int exit = Main.execute(args.toArray(String[]::new));
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    private static List<String> with(List<String> a, String... b) {
        List<String> out = new ArrayList<>(List.of(b));
        out.addAll(a);
        return out;
    }

    @Test
    void twoServeProcessesShareOneBucketAndTheSecondStoresOnlyWhatTheFirstHasNot() throws Exception {
        String bucket = "two-proxies";
        // 12 MiB the two VMs share (a common OS image), 4 MiB each of their own.
        long[] shared = seeds(1000, 12);
        Path vm1 = disk("vm1", concat(shared, seeds(2000, 4)));
        Path vm2 = disk("vm2", concat(shared, seeds(3000, 4)));
        Run init = cli(with(s3Args(bucket, "admin"), "init"));
        assertEquals(0, init.exit(), init.err());
        int p1 = FreePorts.find();
        int p2 = FreePorts.find();
        Process a = null;
        Process b = null;
        List<ManagedChannel> channels = new ArrayList<>();
        try (Peers.Peer n1 = serveNbd(vm1, p1); Peers.Peer n2 = serveNbd(vm2, p2)) {
            a = blockmover(null, with(s3Args(bucket, "proxy-a"), "serve", "--no-auth", "--listen", "127.0.0.1:0",
                    "--allow-source", "127.0.0.1:*", "--metrics", "0"));
            b = blockmover(null, with(s3Args(bucket, "proxy-b"), "serve", "--no-auth", "--listen", "127.0.0.1:0",
                    "--allow-source", "127.0.0.1:*"));
            Ready readyA = awaitReady(a);
            BackupProxyGrpc.BackupProxyBlockingStub proxyA = stub(readyA.grpcPort(), channels);
            BackupProxyGrpc.BackupProxyBlockingStub proxyB = stub(awaitReady(b).grpcPort(), channels);

            Metrics before = Metrics.scrape(readyA.metricsUrl());
            BackupResult first = backup(proxyA, "vm1", p1);
            assertTrue(first.getDisks(0).getStoredBytes() >= 16L * MIB, "a stores all of vm1: " + first);
            // What the first backup cost, as Prometheus sees it: its uploads (packs, their index
            // segments, the manifest pack, the backup object, the lock) and every byte it stored.
            Metrics after = Metrics.scrape(readyA.metricsUrl());
            assertTrue(after.minus(before, "blockmover_object_store_requests_total{op=\"put\"}") >= 5, after.text());
            assertTrue(after.minus(before, "blockmover_object_store_requests_total{op=\"list\"}") >= 2, after.text());
            assertTrue(after.minus(before, "blockmover_object_store_bytes_total{direction=\"up\"}") >= first.getDisks(0).getStoredBytes(),
                    after.text());
            assertEquals(0, after.minus(before, "blockmover_object_store_retries_total"), after.text());
            // Both proxies at once: a backs vm1 up again, b backs vm2 up for the first time.
            CompletableFuture<BackupResult> again = CompletableFuture.supplyAsync(() -> backup(proxyA, "vm1", p1));
            BackupResult second = backup(proxyB, "vm2", p2);
            BackupResult repeat = again.join();
            long stored = second.getDisks(0).getStoredBytes();
            assertTrue(stored >= 4L * MIB && stored < 4L * MIB + MIB / 2,
                    "b stores only vm2's own 4 MiB, not the 12 MiB a stored before: " + stored);
            assertEquals(12L * MIB, second.getDisks(0).getDeduplicatedBytes());
            assertEquals(0, repeat.getDisks(0).getStoredBytes(), "nothing new in vm1");
        } finally {
            channels.forEach(ManagedChannel::shutdownNow);
            for (Process p : new Process[] {a, b}) {
                if (p != null) {
                    p.destroy();
                    p.waitFor(60, TimeUnit.SECONDS);
                    p.destroyForcibly();
                }
            }
        }
        // A third proxy restores both exactly and finds the repository intact.
        List<String> c = s3Args(bucket, "proxy-c");
        for (String vm : List.of("vm1", "vm2")) {
            Path out = dir.resolve("restored-" + vm + ".raw");
            Run r = cli(with(c, "restore", "--vm", vm, "--to", out.toString(), "--no-progress"));
            assertEquals(0, r.exit(), r.err());
            assertEquals(sha256(dir.resolve(vm + ".raw")), sha256(out), vm);
        }
        Run verify = cli(with(c, "verify", "--all", "--no-progress"));
        assertEquals(0, verify.exit(), verify.out() + verify.err());
    }

    @Test
    void aBackupKilledMidUploadLeavesNoVisibleBackupAndTheNextRunSucceeds() throws Exception {
        String bucket = "sigkill";
        Path vm = disk("vm3", seeds(5000, 24));
        // Small packs, so that some are uploaded long before the backup could commit.
        S3Repository.Access admin = new S3Repository.Access(new S3Target(bucket, "repo"), s3.settings(Duration.ofSeconds(10)), "admin",
                dir.resolve("cache-sigkill-admin"), LockTiming.defaults());
        S3Repository.init(admin, InitOptions.defaults().withPackTargetSize(4L * MIB)).close();
        int port = FreePorts.find();
        try (Peers.Peer nbd = serveNbd(vm, port)) {
            List<String> backup = with(s3Args(bucket, "proxy-k"), "backup", "--no-progress", "--source", "nbd://127.0.0.1:" + port + "/disk",
                    "--name", "vm3/disk0");
            Process p = blockmover(dir.resolve("killed.log"), backup);
            try {
                waitForPacks(bucket, p);
                p.destroyForcibly(); // SIGKILL: no shutdown hook, no abort, no lock release
                assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            } finally {
                p.destroyForcibly();
            }
            assertTrue(!Files.readString(dir.resolve("killed.log")).contains("committed"), "killed before it committed");
            try (Repository r = S3Repository.open(admin, null)) {
                assertEquals(List.of(), r.backups(), "nothing of the killed backup is visible");
            }
            Run next = cli(backup);
            assertEquals(0, next.exit(), next.out() + next.err());
            assertTrue(next.out().contains("committed"), next.out());
        }
        Path out = dir.resolve("restored-vm3.raw");
        List<String> c = s3Args(bucket, "proxy-c");
        Run r = cli(with(c, "restore", "--vm", "vm3", "--to", out.toString(), "--no-progress", "--json"));
        assertEquals(0, r.exit(), r.err());
        assertEquals(sha256(vm), sha256(out));
        // The restore's own requests in its --json report: GETs of the packs' bytes (24 MiB of random data, stored as is).
        Matcher gets = Pattern.compile("\"restoreObjectStoreRequests\": \\{\"put\": (\\d+), \"get\": (\\d+).*?\"bytesDown\": (\\d+)")
                .matcher(r.out());
        assertTrue(gets.find(), r.out());
        assertTrue(Long.parseLong(gets.group(2)) >= 6 && Long.parseLong(gets.group(3)) >= 24L * MIB, r.out());
        assertEquals(0, cli(with(c, "verify", "--all", "--no-progress")).exit());
    }

    /**
     * What a backup holds is bounded by its packs in flight, not by the disk: 128 MiB of
     * incompressible data (32 packs of 4 MiB) go into the bucket in a process whose heap is 96 MiB,
     * because a full pack waits for one of four upload slots rather than pile up, and is freed once
     * uploaded; the restore reads it back in 384 MiB. Direct memory (Netty's buffers: the NBD
     * client's requests in flight, 20 MiB per connection) is capped at 64 MiB.
     */
    @Test
    void aBackupLargerThanTheHeapCompletesInABoundedProcess() throws Exception {
        String bucket = "bounded";
        Path vm = disk("vm4", seeds(7000, 128));
        S3Repository.Access admin = new S3Repository.Access(new S3Target(bucket, "repo"), s3.settings(Duration.ofSeconds(10)), "admin",
                dir.resolve("cache-bounded-admin"), LockTiming.defaults());
        S3Repository.init(admin, InitOptions.defaults().withPackTargetSize(4L * MIB)).close();
        List<String> bounded = List.of("-Xmx96m", "-XX:MaxDirectMemorySize=64m");
        int port = FreePorts.find();
        try (Peers.Peer nbd = serveNbd(vm, port)) {
            Path log = dir.resolve("bounded.log");
            Process p = blockmover(log, bounded, with(s3Args(bucket, "proxy-m"), "backup", "--no-progress",
                    "--source", "nbd://127.0.0.1:" + port + "/disk", "--name", "vm4/disk0"));
            try {
                assertTrue(p.waitFor(1, TimeUnit.MINUTES), "the backup did not finish");
            } finally {
                p.destroyForcibly();
            }
            assertEquals(0, p.exitValue(), Files.readString(log));
            assertTrue(!Files.readString(log).contains("direct memory"), Files.readString(log)); // no NBD connection lost to the cap
        }
        Path out = dir.resolve("restored-vm4.raw");
        Path log = dir.resolve("bounded-restore.log");
        // The restore's own bound is looser, not yet analysed: in 96 MiB it ran out of heap, and in
        // 192 MiB now and then (read-ahead windows beside the restore workers' buffers).
        Process r = blockmover(log, List.of("-Xmx384m", "-XX:MaxDirectMemorySize=64m"), with(s3Args(bucket, "proxy-m"), "restore", "--vm", "vm4", "--to", out.toString(),
                "--no-progress"));
        try {
            assertTrue(r.waitFor(1, TimeUnit.MINUTES), "the restore did not finish");
        } finally {
            r.destroyForcibly();
        }
        assertEquals(0, r.exitValue(), Files.readString(log));
        assertEquals(sha256(vm), sha256(out));
    }

    private static void waitForPacks(String bucket, Process p) throws Exception {
        Path packs = s3.dataDir().resolve(bucket).resolve("repo").resolve("packs");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline && p.isAlive()) {
            if (Files.exists(packs)) {
                try (Stream<Path> s = Files.walk(packs)) {
                    if (s.filter(Files::isRegularFile).count() >= 2) {
                        return;
                    }
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the backup uploaded no pack (alive: " + p.isAlive() + ")");
    }

    private static BackupProxyGrpc.BackupProxyBlockingStub stub(int port, List<ManagedChannel> channels) {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        channels.add(ch);
        return BackupProxyGrpc.newBlockingStub(ch);
    }

    private static BackupResult backup(BackupProxyGrpc.BackupProxyBlockingStub proxy, String vm, int nbdPort) {
        Iterator<BackupEvent> events = proxy.withDeadlineAfter(2, TimeUnit.MINUTES).backup(BackupRequest.newBuilder().setVm(vm)
                .addDisks(DiskSource.newBuilder().setDisk("disk0").setUri("nbd://127.0.0.1:" + nbdPort + "/disk")).build());
        while (events.hasNext()) {
            BackupEvent e = events.next();
            if (e.hasResult()) {
                return e.getResult();
            }
        }
        throw new AssertionError("the backup of " + vm + " ended without a result");
    }

    /** The proxy's gRPC port and, when started with --metrics, its scrape URL (else null). */
    private record Ready(int grpcPort, String metricsUrl) {}

    private static Ready awaitReady(Process proxy) throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(proxy.getInputStream(), StandardCharsets.UTF_8));
        int port = -1;
        String metrics = null;
        StringBuilder seen = new StringBuilder();
        for (String line; (line = out.readLine()) != null; ) {
            seen.append(line).append('\n');
            Matcher m = ADDRESS.matcher(line);
            if (m.find()) {
                port = Integer.parseInt(m.group(1));
            }
            Matcher mm = METRICS.matcher(line);
            if (mm.find()) {
                metrics = mm.group(1);
            }
            if (line.equals("ready") && port > 0) {
                Thread.ofVirtual().start(() -> out.lines().forEach(l -> { }));
                return new Ready(port, metrics);
            }
        }
        throw new AssertionError("the proxy exited before it was ready:\n" + seen);
    }

    /** One scrape of a proxy's Prometheus endpoint, in the text format. */
    private record Metrics(String text) {
        static Metrics scrape(String url) throws Exception {
            try (java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient()) {
                java.net.http.HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url)).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), r.body());
                return new Metrics(r.body());
            }
        }

        /** The sample named exactly {@code series} (name and labels); it must be there. */
        double value(String series) {
            for (String line : text.lines().toList()) {
                if (line.startsWith(series + " ")) {
                    return Double.parseDouble(line.substring(series.length() + 1).trim());
                }
            }
            throw new AssertionError("no " + series + " in:\n" + text);
        }

        double minus(Metrics earlier, String series) {
            return value(series) - earlier.value(series);
        }
    }
}
