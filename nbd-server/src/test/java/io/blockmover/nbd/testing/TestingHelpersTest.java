package io.blockmover.nbd.testing;

import io.blockmover.nbd.server.Extent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The shared test helpers do what the interop tests rely on. */
class TestingHelpersTest {

    @Test
    void certificatesVerifyWithOpenssl(@TempDir Path dir) {
        TestCertificates certs = TestCertificates.create(dir);
        Peers.run(Duration.ofSeconds(30), "openssl", "verify", "-CAfile", certs.caCert().toString(),
                "-purpose", "sslserver", certs.serverCert().toString()).requireSuccess();
        Peers.run(Duration.ofSeconds(30), "openssl", "verify", "-CAfile", certs.caCert().toString(),
                "-purpose", "sslclient", certs.clientCert().toString()).requireSuccess();
        Peers.Result ip = Peers.run(Duration.ofSeconds(30), "openssl", "x509", "-in", certs.serverCert().toString(),
                "-noout", "-ext", "subjectAltName").requireSuccess();
        assertTrue(ip.stdout().contains("IP Address:127.0.0.1"), ip.stdout());
        Peers.Result fp = Peers.run(Duration.ofSeconds(30), "openssl", "x509", "-in", certs.serverCert().toString(),
                "-noout", "-fingerprint", "-sha256").requireSuccess();
        assertTrue(fp.stdout().replace(":", "").toLowerCase().contains(certs.serverSha256Hex()), fp.stdout());
    }

    @Test
    void peerServerIsReachableWhileOpenAndKilledOnClose() {
        int port = FreePorts.find();
        Peers.Peer peer = Peers.start(List.of("nbdkit", "-f", "-p", Integer.toString(port), "-i", "127.0.0.1",
                "memory", "1M"), port, Duration.ofSeconds(30));
        try (peer) {
            String info = Peers.run(Duration.ofSeconds(30), "nbdinfo", "nbd://127.0.0.1:" + port + "/").requireSuccess().stdout();
            assertTrue(info.contains("1048576"), info);
        }
        assertFalse(peer.isAlive());
    }

    @Test
    void peerThatExitsEarlyFailsWithItsOutput() {
        int port = FreePorts.find();
        AssertionError e = assertThrows(AssertionError.class, () -> Peers.start(
                List.of("nbdkit", "-f", "-p", Integer.toString(port), "no-such-plugin"), port, Duration.ofSeconds(30)));
        assertTrue(e.getMessage().contains("no-such-plugin"), e.getMessage());
    }

    @Test
    void missingToolFailsNamingTheTool() {
        AssertionError e = assertThrows(AssertionError.class, () -> Peers.require("no-such-tool-blockmover"));
        assertTrue(e.getMessage().contains("no-such-tool-blockmover"));
    }

    @Test
    void runCapturesOutputAndExitCode() {
        Peers.Result r = Peers.run(Duration.ofSeconds(10), "sh", "-c", "echo out; echo err >&2; exit 3");
        assertEquals(3, r.exitCode());
        assertEquals("out\n", r.stdout());
        assertEquals("err\n", r.stderr());
        assertThrows(AssertionError.class, r::requireSuccess);
    }

    @Test
    void memoryDeviceIsSparseAndReadsBack() throws Exception {
        MemoryBlockDevice d = new MemoryBlockDevice(4 * MemoryBlockDevice.PAGE + 100);
        byte[] data = new byte[1000];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7 + 1);
        }
        long at = 2L * MemoryBlockDevice.PAGE - 500;
        d.fill(at, data);
        assertEquals(2, d.allocatedPages());
        ByteBuf out = Unpooled.buffer();
        d.read(at - 10, 1020, out);
        assertEquals(0, out.getByte(0));
        assertEquals(data[0], out.getByte(10));
        assertEquals(data[999], out.getByte(1009));
        assertEquals(0, out.getByte(1019));
        assertEquals(List.of(new Extent(MemoryBlockDevice.PAGE, Extent.HOLE | Extent.ZERO),
                new Extent(2L * MemoryBlockDevice.PAGE, 0),
                new Extent(MemoryBlockDevice.PAGE + 100, Extent.HOLE | Extent.ZERO)), d.extents(0, d.size()));
        assertEquals(List.of(new Extent(10, 0)), d.extents(at, 10));

        d.writeZeroes(MemoryBlockDevice.PAGE, MemoryBlockDevice.PAGE, true);
        assertEquals(1, d.allocatedPages());
        d.writeZeroes(0, 10, false);
        assertEquals(2, d.allocatedPages(), "NO_HOLE zeroing allocates");
        assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(d.contents()), d.sha256());
    }
}
