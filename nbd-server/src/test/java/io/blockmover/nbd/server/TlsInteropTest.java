package io.blockmover.nbd.server;

import io.blockmover.nbd.testing.Digests;
import io.blockmover.nbd.protocol.OptionReply;
import io.blockmover.nbd.protocol.OptionRequest;
import io.blockmover.nbd.testing.MemoryBlockDevice;
import io.blockmover.nbd.testing.Peers;
import io.blockmover.nbd.testing.StaticCatalog;
import io.blockmover.nbd.testing.TestCertificates;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Random;

import static io.blockmover.nbd.protocol.NbdConstants.*;
import static org.junit.jupiter.api.Assertions.*;

/** STARTTLS with X.509 against libnbd (GnuTLS) clients: nbds:// URIs with test certificates. */
class TlsInteropTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    static Path pki;
    private static TestCertificates certs;
    private static MemoryBlockDevice device;
    private NbdServer server;

    @BeforeAll
    static void setUp() {
        certs = TestCertificates.create(pki.resolve("certs"));
        device = new MemoryBlockDevice(8L << 20);
        byte[] data = new byte[1 << 20];
        new Random(7).nextBytes(data);
        device.fill(2L << 20, data);
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private String start(ServerTls tls) throws Exception {
        server = NbdServer.start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)).withTls(tls),
                StaticCatalog.of(new ExportCatalog.Export("disk", "tls disk", device)));
        return "127.0.0.1:" + server.localAddress().getPort() + "/disk";
    }

    private static String nbds(String hostPortExport, Path certificates) {
        return "nbds://" + hostPortExport + "?tls-certificates=" + certificates;
    }

    @Test
    void tlsRequiredServesNbdsAndRefusesPlainClients(@TempDir Path dir) throws Exception {
        String target = start(new ServerTls(certs.serverCert(), certs.serverKey(), Optional.empty(), true));

        String info = Peers.run(TIMEOUT, "nbdinfo", nbds(target, certs.dir())).requireSuccess().stdout();
        assertTrue(info.contains("with TLS"), info);
        Path copy = dir.resolve("copy.raw");
        Peers.run(TIMEOUT, "nbdcopy", nbds(target, certs.dir()), copy.toString()).requireSuccess();
        assertEquals(HexFormat.of().formatHex(device.sha256()), Digests.sha256(copy));

        Peers.Result plain = Peers.run(TIMEOUT, "nbdinfo", "nbd://" + target);
        assertNotEquals(0, plain.exitCode(), plain.describe());
        Peers.Result list = Peers.run(TIMEOUT, "nbdinfo", "--list", "nbd://" + target);
        assertNotEquals(0, list.exitCode(), list.describe());

        // What a plain client sees, option by option.
        try (WireClient c = WireClient.negotiate(server.localAddress())) {
            for (OptionRequest o : List.of(new OptionRequest.ListExports(), new OptionRequest.StructuredReply(),
                    new OptionRequest.Info(true, "disk", List.of()), new OptionRequest.MetaContext(false, "disk", List.of()))) {
                OptionReply r = c.option(o).getLast();
                assertEquals(REP_ERR_TLS_REQD, ((OptionReply.Error) r).type(), o.toString());
            }
            c.send(new OptionRequest.ExportName("disk"));
            assertTrue(c.closedByServer(), "EXPORT_NAME without TLS hangs up");
        }
    }

    @Test
    void tlsOptionalServesBothPlainAndTls() throws Exception {
        String target = start(new ServerTls(certs.serverCert(), certs.serverKey(), Optional.empty(), false));
        assertTrue(Peers.run(TIMEOUT, "nbdinfo", "nbd://" + target).requireSuccess().stdout().contains("without TLS"));
        assertTrue(Peers.run(TIMEOUT, "nbdinfo", nbds(target, certs.dir())).requireSuccess().stdout().contains("with TLS"));
    }

    @Test
    void clientCertificatesRequiredWhenAClientCaIsGiven(@TempDir Path caOnly) throws Exception {
        String target = start(new ServerTls(certs.serverCert(), certs.serverKey(), Optional.of(certs.caCert()), true));
        assertTrue(Peers.run(TIMEOUT, "nbdinfo", nbds(target, certs.dir())).requireSuccess().stdout().contains("with TLS"));

        Files.copy(certs.caCert(), caOnly.resolve("ca-cert.pem"));
        Peers.Result anonymous = Peers.run(TIMEOUT, "nbdinfo", nbds(target, caOnly));
        assertNotEquals(0, anonymous.exitCode(), "a client without a certificate is refused: " + anonymous.describe());
    }

    @Test
    void aClientThatDoesNotTrustTheServerFails(@TempDir Path other) throws Exception {
        String target = start(new ServerTls(certs.serverCert(), certs.serverKey(), Optional.empty(), true));
        TestCertificates stranger = TestCertificates.create(other);
        Peers.Result r = Peers.run(TIMEOUT, "nbdinfo", nbds(target, stranger.dir()));
        assertNotEquals(0, r.exitCode(), r.describe());
    }
}
