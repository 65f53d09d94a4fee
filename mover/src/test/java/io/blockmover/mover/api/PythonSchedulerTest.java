package io.blockmover.mover.api;

import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.testing.TestCertificates;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A scheduler written in Python (Debian's python3-grpcio) backs up a VM through the proxy over
 * TLS with a bearer token: stubs generated at test time from the shipped .proto by
 * python3-grpc-tools, a job submitted, watched to its end, the VM's backups listed.
 */
class PythonSchedulerTest {
    /** Debian's interpreter, where python3-grpcio lives (a python3 earlier in PATH may lack it). */
    private static final String PYTHON = "/usr/bin/python3";
    private static final String TOKEN = "sched-4b9e1d7a3c6f2e8051";

    @TempDir
    Path dir;

    @Test
    void aPythonSchedulerSubmitsWatchesAndListsOverTlsWithAToken() throws Exception {
        Path stubs = generateStubs(dir.resolve("stubs"));
        TestCertificates pki = TestCertificates.create(dir.resolve("pki"));
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, "operator " + TOKEN + "\n");
        Path tokenForClient = dir.resolve("client-token");
        Files.writeString(tokenForClient, TOKEN + "\n");
        try (ProxyFixture fixture = new ProxyFixture(dir);
             ProxyServer tls = ProxyServer.start(new InetSocketAddress("127.0.0.1", 0), fixture.service,
                     Optional.of(new ProxyServer.Tls(pki.serverCert(), pki.serverKey(), Optional.empty())),
                     Credentials.of(Optional.of(tokens), Map.of()))) {
            Snapshot s1 = fixture.vm.createSnapshot("s1");
            List<String> out = run(List.of(PYTHON, Path.of("src/test/python/scheduler.py").toAbsolutePath().toString(),
                    "--stubs", stubs.toString(), "--target", "127.0.0.1:" + tls.address().getPort(), "--ca", pki.caCert().toString(),
                    "--token-file", tokenForClient.toString(), "--vm", "vm01", "--disk", "disk-2000", "--uri", fixture.export(s1),
                    "--change-id", s1.disks().getFirst().changeId().orElseThrow().toString()));
            String all = String.join("\n", out);
            assertTrue(out.stream().anyMatch(l -> l.contains("\"state\": \"JOB_STATE_SUCCEEDED\"")), all);
            assertTrue(out.getLast().startsWith("{\"backup_id\": 1, \"backups\": [{\"id\": 1, \"vm\": \"vm01\", \"disks\": [\"disk-2000\"]}]"), all);
            assertEquals(1, fixture.repo.backups().size(), "the backup is committed in the proxy's repository");
        }
    }

    /**
     * The shipped .proto compiled by python3-grpc-tools. Debian 12's (1.14) predates proto3's
     * {@code optional}, so the word is dropped for it: a field keeps its number and type, so
     * the wire format is the same; only the Python side loses "unset" for those fields.
     */
    private static Path generateStubs(Path out) throws Exception {
        Path source = out.resolve("proto/blockmover/v1/proxy.proto");
        Files.createDirectories(source.getParent());
        String proto = Files.readString(Path.of("src/main/proto/blockmover/v1/proxy.proto"));
        Files.writeString(source, proto.replaceAll("(?m)^(\\s*)optional ", "$1"));
        run(List.of(PYTHON, "-m", "grpc_tools.protoc", "-I", out.resolve("proto").toString(), "--python_out=" + out,
                "--grpc_python_out=" + out, "blockmover/v1/proxy.proto"));
        return out;
    }

    private static List<String> run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "ends: " + command);
        assertEquals(0, p.exitValue(), command.getFirst() + " " + command.get(1) + ":\n" + output);
        return output.lines().toList();
    }
}
