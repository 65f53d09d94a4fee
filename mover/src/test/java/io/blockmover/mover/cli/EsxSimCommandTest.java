package io.blockmover.mover.cli;

import io.blockmover.nbd.esx.EsxHost;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.testing.Peers;
import io.blockmover.nbd.testing.TestCertificates;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code blockmover esxsim} as a child process, driven the way scripts and {@code make run} drive it. */
class EsxSimCommandTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    /** A running esxsim: its printed exports and the addresses it reported on stderr. */
    private record Running(Process process, List<String> exports, int nbdPort, String controlUrl) implements AutoCloseable {
        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    private static Running start(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "esxsim"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        try {
            BlockingQueue<String> out = lines(p.getInputStream());
            BlockingQueue<String> err = lines(p.getErrorStream());
            List<String> exports = new ArrayList<>();
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (true) {
                String line = out.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (line == null) {
                    throw new AssertionError("esxsim printed no 'ready'; exports so far " + exports + ", stderr " + err);
                }
                if (line.equals("ready")) {
                    break;
                }
                exports.add(line);
            }
            String info = err.poll(10, TimeUnit.SECONDS);
            Matcher m = Pattern.compile("esxsim: nbd [^ ]+:(\\d+)(?: control (\\S+))?").matcher(String.valueOf(info));
            assertTrue(m.find(), "address line on stderr: " + info);
            return new Running(p, exports, Integer.parseInt(m.group(1)), m.group(2));
        } catch (RuntimeException | Error | InterruptedException e) {
            p.destroyForcibly();
            throw e;
        }
    }

    private static BlockingQueue<String> lines(java.io.InputStream in) {
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    q.add(l);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        });
        return q;
    }

    private static List<String> listed(String uri, String... extra) {
        List<String> cmd = new ArrayList<>(List.of("nbdinfo", "--list"));
        cmd.addAll(List.of(extra));
        cmd.add(uri);
        Peers.Result r = Peers.run(TIMEOUT, cmd).requireSuccess();
        List<String> names = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^export=\"([^\"]*)\":").matcher(r.stdout());
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    @Test
    void printsItsExportsServesThemAndTakesSnapshotsOverTheControlApi() throws Exception {
        try (Running sim = start("--listen", "127.0.0.1:0", "--vms", "2", "--disks-per-vm", "2", "--disk-size", "32M",
                "--profile", "mixed", "--seed", "42", "--snapshot", "--control", "127.0.0.1:0")) {
            assertEquals(List.of("vm01/disk-2000", "vm01/disk-2001", "vm01/disk-2000@snap-1", "vm01/disk-2001@snap-1",
                    "vm02/disk-2000", "vm02/disk-2001", "vm02/disk-2000@snap-1", "vm02/disk-2001@snap-1"), sim.exports());
            String base = "nbd://127.0.0.1:" + sim.nbdPort();
            assertEquals(sim.exports(), listed(base));

            Peers.Result map = Peers.run(TIMEOUT, "nbdinfo", "--map", base + "/vm02/disk-2001@snap-1").requireSuccess();
            long allocated = map.stdout().lines().filter(l -> l.trim().split("\\s+")[2].equals("0"))
                    .mapToLong(l -> Long.parseLong(l.trim().split("\\s+")[1])).sum();
            long expected = EsxHost.contentOf(42, 2, 2001, Profile.MIXED, 32L << 20).allocation(0, 32L << 20).stream()
                    .filter(e -> e.flags() == 0).mapToLong(e -> e.length()).sum();
            assertEquals(expected, allocated, map.stdout());

            try (HttpClient http = HttpClient.newHttpClient()) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(sim.controlUrl()
                        + "/snapshot?vm=vm01&name=nightly")).POST(HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), r.body());
            }
            assertTrue(listed(base).contains("vm01/disk-2001@nightly"));

            sim.process().destroy();   // SIGTERM: a clean shutdown
            assertTrue(sim.process().waitFor(20, TimeUnit.SECONDS), "esxsim stops on SIGTERM");
        }
    }

    @Test
    void servesOnlyTlsClientsWithCertificatesWhenTlsIsRequired(@TempDir Path dir) throws Exception {
        TestCertificates certs = TestCertificates.create(dir.resolve("pki"));
        try (Running sim = start("--listen", "127.0.0.1:0", "--vms", "1", "--disks-per-vm", "2", "--disk-size", "16M",
                "--independent-disks", "1", "--snapshot", "--tls-cert", certs.serverCert().toString(), "--tls-key", certs.serverKey().toString(),
                "--tls-ca", certs.caCert().toString(), "--tls-required")) {
            // GnuTLS (libnbd) cannot read a PKCS#8 EC key whose inner ECPrivateKey omits the public
            // key, as the JDK writes it; openssl rewrites it as SEC1 with the public key for the client side.
            Path client = java.nio.file.Files.createDirectories(dir.resolve("client"));
            java.nio.file.Files.copy(certs.caCert(), client.resolve("ca-cert.pem"));
            java.nio.file.Files.copy(certs.clientCert(), client.resolve("client-cert.pem"));
            Peers.run(TIMEOUT, "openssl", "ec", "-in", certs.clientKey().toString(),
                    "-out", client.resolve("client-key.pem").toString()).requireSuccess();
            // the independent disk 2001 is served live but never appears in a snapshot
            assertEquals(List.of("vm01/disk-2000", "vm01/disk-2001", "vm01/disk-2000@snap-1"), sim.exports());
            String export = "vm01/disk-2000";
            Peers.Result tls = Peers.run(TIMEOUT, "nbdinfo", "--size",
                    "nbds://127.0.0.1:" + sim.nbdPort() + "/" + export + "?tls-certificates=" + client).requireSuccess();
            assertEquals(String.valueOf(16L << 20), tls.stdout().trim());
            Peers.Result plain = Peers.run(TIMEOUT, "nbdinfo", "--size", "nbd://127.0.0.1:" + sim.nbdPort() + "/" + export);
            assertNotEquals(0, plain.exitCode(), "a plain client is refused: " + plain.describe());
        }
    }

    @Test
    void badOptionsFailWithOneLineBeforeStarting() {
        assertEquals(1, Main.execute("esxsim", "--listen", "127.0.0.1:0", "--profile", "lots"));
        assertEquals(1, Main.execute("esxsim", "--listen", "127.0.0.1:0", "--disk-size", "12X"));
        assertEquals(1, Main.execute("esxsim", "--listen", "nowhere"));
        assertEquals(1, Main.execute("esxsim", "--listen", "127.0.0.1:0", "--tls-required"));
        assertEquals(1, Main.execute("esxsim", "--listen", "127.0.0.1:0", "--churn-pattern", "zigzag"));
    }
}
