package io.blockmover.mover.transport.nbd;

import static io.blockmover.mover.transport.nbd.ClientTesting.*;
import static org.junit.jupiter.api.Assertions.*;

import io.blockmover.nbd.testing.TestCertificates;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** STARTTLS with X.509 against {@code nbdkit --tls=require}, verifying the client certificate too. */
class NbdkitTlsTest {
    @TempDir
    static Path tmp;

    static TestCertificates certs;
    static Nbdkit nbdkit;

    @BeforeAll
    static void start() throws Exception {
        certs = TestCertificates.create(tmp.resolve("pki"));
        // GnuTLS 3.7 cannot read the JDK's PKCS#8 EC keys ("ASN1 parser: Element was not
        // found"): give nbdkit the server key as SEC1 "EC PRIVATE KEY", which it reads.
        Path rewritten = tmp.resolve("server-key.pem");
        io.blockmover.nbd.testing.Peers.run(java.time.Duration.ofSeconds(20), "openssl", "ec",
                "-in", certs.serverKey().toString(), "-out", rewritten.toString()).requireSuccess();
        java.nio.file.Files.move(rewritten, certs.serverKey(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        nbdkit = nbdkit("--tls=require", "--tls-certificates=" + certs.dir(), "--tls-verify-peer", "pattern", "8M");
    }

    @AfterAll
    static void stop() {
        if (nbdkit != null) {
            nbdkit.close();
        }
    }

    private static String base() {
        return "nbds://127.0.0.1:" + nbdkit.port() + "/";
    }

    @Test
    void caVerifiedWithClientCertificateFromTheCertificatesDirectory() throws Exception {
        try (NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(base() + "?tls-certificates=" + certs.dir()), ConnectOptions.DEFAULT)) {
            assertTrue(s.client().info().tls());
            assertEquals(sha256(pattern(8 << 20)), sha256(readAll(s, 1 << 20, 8)));
        }
    }

    @Test
    void pinnedFingerprintWithExplicitFiles() throws Exception {
        String uri = base() + "?tls-fingerprint=" + certs.serverSha256Hex() + "&tls-cert-file=" + certs.clientCert()
                + "&tls-key-file=" + certs.clientKey();
        try (NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(uri), ConnectOptions.DEFAULT)) {
            assertEquals(sha256(pattern(8 << 20)), sha256(readAll(s, 4 << 20, 2)));
        }
    }

    @Test
    void wrongFingerprintIsRefused() {
        String uri = base() + "?tls-fingerprint=" + "00".repeat(32) + "&tls-cert-file=" + certs.clientCert()
                + "&tls-key-file=" + certs.clientKey();
        NbdHandshakeException e = assertThrows(NbdHandshakeException.class,
                () -> NbdClient.connect(NbdUri.parse(uri), ConnectOptions.DEFAULT));
        assertTrue(e.getMessage().contains("does not match the pinned"), e.getMessage());
    }

    @Test
    void certificateFromAnotherCaIsRefused() {
        TestCertificates other = TestCertificates.create(tmp.resolve("other"));
        String uri = base() + "?tls-ca-file=" + other.caCert() + "&tls-cert-file=" + certs.clientCert()
                + "&tls-key-file=" + certs.clientKey();
        NbdHandshakeException e = assertThrows(NbdHandshakeException.class,
                () -> NbdClient.connect(NbdUri.parse(uri), ConnectOptions.DEFAULT));
        assertTrue(e.getMessage().contains("TLS handshake") && e.getMessage().contains("--tls-ca"), e.getMessage());
    }

    @Test
    void plainClientIsToldThatTlsIsRequired() {
        NbdHandshakeException e = assertThrows(NbdHandshakeException.class,
                () -> NbdClient.connect(NbdUri.parse("nbd://127.0.0.1:" + nbdkit.port() + "/"), ConnectOptions.DEFAULT));
        assertTrue(e.getMessage().contains("requires TLS") && e.getMessage().contains("nbds://"), e.getMessage());
    }
}
