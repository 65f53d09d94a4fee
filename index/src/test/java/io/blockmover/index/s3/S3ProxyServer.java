package io.blockmover.index.s3;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real S3 server for tests and the bench: s3proxy (filesystem backend, path-style, SigV4 with
 * fixed test keys) as a child JVM on a loopback port, from the self-contained jar the build
 * copies to {@code index/target/s3proxy/s3proxy.jar}. It can be stopped (killed) and started
 * again on the same port and data, to play an object store that goes away.
 */
public final class S3ProxyServer implements AutoCloseable {
    public static final String IDENTITY = "blockmover-test";
    public static final String CREDENTIAL = "blockmover-test-secret";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private static final String KEYSTORE_PASSWORD = "s3proxy-test";

    private final Path dir;
    private final int port;
    private final int tlsPort;
    private final Path jar;
    private final List<String> jvmOptions;
    private Process process;

    private S3ProxyServer(Path dir, int port, int tlsPort, Path jar, List<String> jvmOptions) {
        this.dir = dir;
        this.port = port;
        this.tlsPort = tlsPort;
        this.jar = jar;
        this.jvmOptions = List.copyOf(jvmOptions);
    }

    /** Starts s3proxy storing under {@code dir/data}, on a free loopback port. */
    public static S3ProxyServer start(Path dir) throws IOException, InterruptedException {
        return start(dir, false);
    }

    /**
     * Starts s3proxy; with {@code tls}, also on an https port whose self-signed certificate for
     * 127.0.0.1 (made here with keytool) is {@link #caFile()}.
     */
    public static S3ProxyServer start(Path dir, boolean tls) throws IOException, InterruptedException {
        // C1 only and a small serial heap: a test's server starts fast and moves little data.
        return start(dir, tls, List.of("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
    }

    /** Starts s3proxy in a JVM with these options (the bench's runs with the default compilers). */
    public static S3ProxyServer start(Path dir, boolean tls, List<String> jvmOptions) throws IOException, InterruptedException {
        Files.createDirectories(dir.resolve("data"));
        int port = freePort();
        int tlsPort = tls ? freePort() : -1;
        S3ProxyServer server = new S3ProxyServer(dir, port, tlsPort, findJar(), jvmOptions);
        List<String> tlsLines = List.of();
        if (tls) {
            server.makeCertificate();
            tlsLines = List.of("s3proxy.secure-endpoint=https://127.0.0.1:" + tlsPort,
                    "s3proxy.keystore-path=" + dir.resolve("keystore.p12").toAbsolutePath(),
                    "s3proxy.keystore-password=" + KEYSTORE_PASSWORD);
        }
        Files.writeString(dir.resolve("s3proxy.properties"), String.join("\n", tlsLines) + "\n" + String.join("\n",
                "s3proxy.endpoint=http://127.0.0.1:" + port,
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + IDENTITY,
                "s3proxy.credential=" + CREDENTIAL,
                "jclouds.provider=filesystem",
                "jclouds.filesystem.basedir=" + dir.resolve("data").toAbsolutePath(),
                ""));
        Files.writeString(dir.resolve("credentials"), "[default]\naws_access_key_id = " + IDENTITY
                + "\naws_secret_access_key = " + CREDENTIAL + "\n");
        server.startAgain();
        return server;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private void makeCertificate() throws IOException, InterruptedException {
        Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
        Path ks = dir.resolve("keystore.p12");
        run(keytool.toString(), "-genkeypair", "-alias", "s3proxy", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", "CN=127.0.0.1", "-ext", "SAN=IP:127.0.0.1", "-storetype", "PKCS12", "-keystore", ks.toString(),
                "-storepass", KEYSTORE_PASSWORD, "-keypass", KEYSTORE_PASSWORD);
        run(keytool.toString(), "-exportcert", "-rfc", "-alias", "s3proxy", "-keystore", ks.toString(), "-storepass", KEYSTORE_PASSWORD,
                "-file", caFile().toString());
    }

    private void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
    }

    /** The https endpoint (started with {@code tls}). */
    public URI tlsEndpoint() {
        return URI.create("https://127.0.0.1:" + tlsPort);
    }

    /** The PEM certificate the https endpoint presents: trust it as a private CA. */
    public Path caFile() {
        return dir.resolve("ca.pem");
    }

    /** The jar: {@code -Dbm.s3proxy.jar}, else {@code index/<target>/s3proxy/s3proxy.jar} found from the working directory up. */
    public static Path findJar() throws IOException {
        String p = System.getProperty("bm.s3proxy.jar");
        if (p != null && Files.isReadable(Path.of(p))) {
            return Path.of(p);
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            for (Path c : List.of(d.resolve("target/s3proxy/s3proxy.jar"), d.resolve("index/target/s3proxy/s3proxy.jar"))) {
                if (Files.isReadable(c)) {
                    return c;
                }
            }
        }
        throw new IOException("s3proxy.jar not found: build the index module (mvn -pl index test-compile copies it) or set -Dbm.s3proxy.jar");
    }

    public synchronized void startAgain() throws IOException, InterruptedException {
        if (process != null && process.isAlive()) {
            return;
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new java.util.ArrayList<>(List.of(java));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-jar", jar.toString(), "--properties", dir.resolve("s3proxy.properties").toString()));
        process = new ProcessBuilder(cmd)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("s3proxy.log").toFile())).start();
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("s3proxy exited with status " + process.exitValue() + "; see " + dir.resolve("s3proxy.log"));
            }
            if (listens(port) && (tlsPort < 0 || listens(tlsPort))) {
                return;
            }
            Thread.sleep(100);
        }
        stop();
        throw new IOException("s3proxy did not listen on port " + port + " within " + START_TIMEOUT.toSeconds() + " s");
    }

    private static boolean listens(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException notYet) {
            return false;
        }
    }

    /** Kills the server at once, as a crash or a network cut would. */
    public synchronized void stop() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** The server's process id (its CPU is part of what a job into it costs on a shared machine). */
    public synchronized long pid() {
        return process.pid();
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    public Path credentialsFile() {
        return dir.resolve("credentials");
    }

    /** Settings to reach this server; the retry budget is the test's. */
    public S3Settings settings(Duration retryBudget) {
        return S3Settings.defaults().withEndpoint(endpoint()).withRegion("us-east-1")
                .withCredentialsFile(credentialsFile(), "default").withRetryBudget(retryBudget);
    }

    /** The objects stored, straight from the backend's directory: what a test counts without asking through S3. */
    public Path dataDir() {
        return dir.resolve("data");
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
