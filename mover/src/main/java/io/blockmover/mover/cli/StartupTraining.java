package io.blockmover.mover.cli;

import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.VirtualMachine;
import io.blockmover.nbd.server.ServerTls;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The workload {@code make build} runs once under {@code -XX:AOTCacheOutput} (JDK 25's ahead-of-time
 * cache, JEP 483/514/515). Every {@code blockmover} command is a fresh process, so start-up is part
 * of every backup's time; with the cache a process starts with the classes it needs already loaded
 * and linked, and with method profiles that let the JIT compile the hot paths sooner. It runs the
 * real commands, as a user types them, against an in-process emulated host (plain, then TLS).
 */
public final class StartupTraining {
    private static final long DISK = 256L << 20;

    private StartupTraining() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        Path dir = Files.createTempDirectory("blockmover-training");
        PrintStream out = System.out;
        PrintStream err = System.err;
        System.setOut(new PrintStream(OutputStream.nullOutputStream()));
        System.setErr(new PrintStream(OutputStream.nullOutputStream()));
        try {
            if (args.length == 0) {
                plain(dir);
                tls(dir);
            } else if (args.length == 2 && args[0].equals("--s3proxy")) {
                plain(dir);
                tls(dir);
                s3(dir, Path.of(args[1]));
            } else if (args.length == 1 && args[0].equals("nbd")) {
                nbd(dir);
            } else {
                throw new IllegalArgumentException("usage: StartupTraining [nbd | --s3proxy JAR]");
            }
        } finally {
            System.setOut(out);
            System.setErr(err);
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(StartupTraining::delete);
            }
        }
    }

    private static void plain(Path dir) throws Exception {
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(
                new HostSpec(7, 1, 1, DISK, Profile.MIXED, true)))) {
            VirtualMachine vm = sim.host().requireVm("vm01");
            String repo = dir.resolve("repo").toString();
            String base = "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000@";
            run("init", "--repo", repo);
            Snapshot s1 = vm.createSnapshot("s1");
            run("backup", "--repo", repo, "--source", base + "s1", "--no-progress",
                    "--change-id", s1.disks().getFirst().changeId().orElseThrow().toString());
            sim.workload().writeGrains(256);
            Snapshot s2 = vm.createSnapshot("s2");
            run("backup", "--repo", repo, "--source", base + "s2", "--no-progress",
                    "--change-id", s2.disks().getFirst().changeId().orElseThrow().toString());
            run("restore", "--repo", repo, "--to", dir.resolve("restored.raw").toString(), "--no-progress");
            run("verify", "--repo", repo, "--all", "--no-progress");
            run("list", "--repo", repo);
            run("stats", "--repo", repo);
            run("nbd-info", base + "s2");
            run("nbd-copy", base + "s2", "null:", "--no-progress");
        }
    }

    /**
     * The same jobs with the repository in a bucket of s3proxy (a child JVM from the jar the build
     * copies for the tests): without them every command on an s3:// repository loaded and linked
     * the AWS SDK's classes (~4,000) from the jars, about a CPU-second of each start.
     */
    private static void s3(Path dir, Path jar) throws Exception {
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(
                new HostSpec(7, 1, 1, DISK, Profile.MIXED, true)));
             S3Server s3 = S3Server.start(dir.resolve("s3proxy"), jar)) {
            VirtualMachine vm = sim.host().requireVm("vm01");
            String base = "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000@";
            String[] repo = {"--repo", "s3://training/repo", "--s3-endpoint", s3.endpoint(), "--s3-credentials-file",
                    s3.credentials().toString(), "--s3-proxy-id", "training", "--cache-dir", dir.resolve("s3-cache").toString()};
            run(with(repo, "init"));
            Snapshot s1 = vm.createSnapshot("s1");
            run(with(repo, "backup", "--source", base + "s1", "--no-progress", "--json",
                    "--change-id", s1.disks().getFirst().changeId().orElseThrow().toString()));
            sim.workload().writeGrains(256);
            Snapshot s2 = vm.createSnapshot("s2");
            run(with(repo, "backup", "--source", base + "s2", "--no-progress", "--json",
                    "--change-id", s2.disks().getFirst().changeId().orElseThrow().toString()));
            run(with(repo, "restore", "--to", dir.resolve("s3-restored.raw").toString(), "--no-progress"));
            run(with(repo, "verify", "--no-progress"));
            run(with(repo, "list"));
        }
    }

    private static String[] with(String[] repo, String command, String... args) {
        List<String> all = new ArrayList<>(List.of(command));
        all.addAll(List.of(repo));
        all.addAll(List.of(args));
        return all.toArray(String[]::new);
    }

    /** s3proxy on a free loopback port (filesystem backend, fixed training keys), stopped on close. */
    private record S3Server(Process process, int port, Path credentials) implements AutoCloseable {
        static S3Server start(Path dir, Path jar) throws IOException, InterruptedException {
            Files.createDirectories(dir.resolve("data"));
            int port;
            try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                port = probe.getLocalPort();
            }
            Path props = Files.writeString(dir.resolve("s3proxy.properties"), String.join("\n",
                    "s3proxy.endpoint=http://127.0.0.1:" + port, "s3proxy.authorization=aws-v2-or-v4",
                    "s3proxy.identity=training", "s3proxy.credential=training-secret", "jclouds.provider=filesystem",
                    "jclouds.filesystem.basedir=" + dir.resolve("data").toAbsolutePath(), ""));
            Path credentials = Files.writeString(dir.resolve("credentials"),
                    "[default]\naws_access_key_id = training\naws_secret_access_key = training-secret\n");
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                    "-XX:TieredStopAtLevel=1", "-jar", jar.toString(), "--properties", props.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline && p.isAlive()) {
                try (java.net.Socket probe = new java.net.Socket()) {
                    probe.connect(new java.net.InetSocketAddress("127.0.0.1", port), 200);
                    return new S3Server(p, port, credentials);
                } catch (IOException notYet) {
                    Thread.sleep(100);
                }
            }
            p.destroyForcibly();
            throw new IllegalStateException("s3proxy for training did not start");
        }

        String endpoint() {
            return "http://127.0.0.1:" + port;
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /**
     * The same copy over TLS. Without it, every TLS run loaded and verified ~700 classes (Netty's
     * SSL handler, BoringSSL's bindings, X.509 parsing) from the jars instead of the cache.
     */
    private static void tls(Path dir) throws Exception {
        ServerTls tls = selfSignedTls(dir);
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(
                new HostSpec(7, 1, 1, DISK, Profile.MIXED, true)).withTls(tls))) {
            String uri = "nbds://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000";
            String ca = tls.certificateChainPem().toString();
            run("nbd-info", "--tls-ca", ca, uri);
            run("nbd-copy", "--tls-ca", ca, uri, "null:", "--no-progress");
        }
    }

    /**
     * For the cache of nbd-info and nbd-copy alone (run with C1 only): both, plain and over TLS,
     * against an emulated host in a process of its own. The JVM loads every class of its cache at
     * start, used or not; this cache holds the client's classes only (nbd-info: 0.32 -> 0.26 CPU-s).
     */
    private static void nbd(Path dir) throws Exception {
        try (Emulator host = Emulator.start()) {
            String uri = "nbd://127.0.0.1:" + host.port() + "/vm01/disk-2000";
            run("nbd-info", uri);
            run("nbd-copy", uri, "null:", "--no-progress");
        }
        ServerTls tls = selfSignedTls(dir);
        String ca = tls.certificateChainPem().toString();
        try (Emulator host = Emulator.start("--tls-cert", ca, "--tls-key", tls.privateKeyPem().toString(), "--tls-required")) {
            String uri = "nbds://127.0.0.1:" + host.port() + "/vm01/disk-2000";
            run("nbd-info", "--tls-ca", ca, uri);
            run("nbd-copy", "--tls-ca", ca, uri, "null:", "--no-progress");
        }
    }

    /** {@code blockmover esxsim} in a child JVM on the same class path, stopped on close. */
    private record Emulator(Process process, int port) implements AutoCloseable {
        private static final Pattern LISTENING = Pattern.compile("esxsim: nbd 127\\.0\\.0\\.1:(\\d+)");

        static Emulator start(String... extra) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                    "-Djava.library.path=" + System.getProperty("java.library.path"),
                    "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                    "esxsim", "--listen", "127.0.0.1:0", "--vms", "1", "--disks-per-vm", "1", "--disk-size", Long.toString(DISK)));
            cmd.addAll(List.of(extra));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            try {
                // It prints its address, its exports, then "ready" (and nothing more unless it fails).
                BufferedReader out = p.inputReader();
                int port = -1;
                for (String line; (line = out.readLine()) != null; ) {
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) {
                        port = Integer.parseInt(m.group(1));
                    } else if (line.equals("ready") && port > 0) {
                        return new Emulator(p, port);
                    }
                }
                throw new IllegalStateException("the emulated host for training exited before it was ready");
            } catch (IOException | RuntimeException e) {
                p.destroyForcibly();
                throw e;
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    /**
     * A self-signed RSA certificate for 127.0.0.1 (as the benchmark's), made by the JDK's keytool
     * and written as the PEM files the server takes; the client trusts it as its CA.
     */
    private static ServerTls selfSignedTls(Path dir) throws Exception {
        Path store = dir.resolve("training.p12");
        String password = "training";
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "nbd", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=localhost", "-ext", "san=ip:127.0.0.1,dns:localhost",
                "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass", password)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            if (!keytool.waitFor(2, TimeUnit.MINUTES) || keytool.exitValue() != 0) {
                throw new IllegalStateException("keytool could not make the training certificate");
            }
        } finally {
            keytool.destroyForcibly();
        }
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(store)) {
            keys.load(in, password.toCharArray());
        }
        Path cert = Files.writeString(dir.resolve("cert.pem"), pem("CERTIFICATE", keys.getCertificate("nbd").getEncoded()));
        Path key = Files.writeString(dir.resolve("key.pem"), pem("PRIVATE KEY", keys.getKey("nbd", password.toCharArray()).getEncoded()));
        return new ServerTls(cert, key, Optional.empty(), true);
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    private static void run(String... args) {
        int exit = Main.execute(args);
        if (exit != 0) {
            throw new IllegalStateException("training run of '" + String.join(" ", args) + "' exited with " + exit);
        }
    }

    private static void delete(Path p) {
        try {
            Files.delete(p);
        } catch (IOException e) {
            throw new IllegalStateException("cannot delete " + p + ": " + e.getMessage(), e);
        }
    }
}
