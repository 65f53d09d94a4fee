package io.blockmover.mover.transport.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class NbdUriTest {

    @Test
    void tcpWithPortAndExport() {
        NbdUri u = NbdUri.parse("nbd://example.com:10810/disk%201");
        assertEquals(new NbdUri.Endpoint.Tcp("example.com", 10810), u.endpoint());
        assertEquals("disk 1", u.exportName());
        assertFalse(u.tls());
    }

    @Test
    void defaultsPortAndEmptyExport() {
        NbdUri u = NbdUri.parse("nbd://127.0.0.1");
        assertEquals(new NbdUri.Endpoint.Tcp("127.0.0.1", 10809), u.endpoint());
        assertEquals("", u.exportName());
        assertEquals("", NbdUri.parse("nbd://h/").exportName());
    }

    @Test
    void ipv6Host() {
        assertEquals(new NbdUri.Endpoint.Tcp("::1", 5000), NbdUri.parse("nbd://[::1]:5000/x").endpoint());
    }

    @Test
    void unixSocket() {
        NbdUri u = NbdUri.parse("nbd+unix:///foo?socket=/tmp/nbd.sock");
        assertEquals(new NbdUri.Endpoint.Unix(Path.of("/tmp/nbd.sock")), u.endpoint());
        assertEquals("foo", u.exportName());
        assertEquals("nbd+unix:///foo?socket=/tmp/nbd.sock", u.toString());
    }

    @Test
    void tlsWithLibnbdAndOwnParameters() {
        String fp = "AB:".repeat(31) + "AB";
        NbdUri u = NbdUri.parse("nbds://h/e?tls-certificates=/etc/pki&tls-fingerprint=" + fp);
        assertTrue(u.tls());
        assertEquals(Path.of("/etc/pki"), u.tlsOptions().certificates());
        byte[] expected = new byte[32];
        java.util.Arrays.fill(expected, (byte) 0xab);
        assertArrayEquals(expected, u.tlsOptions().fingerprint());
        assertTrue(u.tlsOptions().verifyPeer());

        NbdUri v = NbdUri.parse("nbds+unix:///?socket=/s&tls-verify-peer=false&tls-cert-file=/c&tls-key-file=/k&tls-ca-file=/ca");
        assertFalse(v.tlsOptions().verifyPeer());
        assertEquals(Path.of("/c"), v.tlsOptions().certFile());
        assertEquals(Path.of("/k"), v.tlsOptions().keyFile());
        assertEquals(Path.of("/ca"), v.tlsOptions().caFile());
        assertNull(v.tlsOptions().fingerprint());
    }

    @Test
    void nbdsWithoutParametersVerifiesAgainstDefaults() {
        NbdUri u = NbdUri.parse("nbds://h/e");
        assertTrue(u.tls());
        assertEquals(TlsOptions.NONE, u.tlsOptions());
    }

    @Test
    void clearErrors() {
        assertMessage("unsupported NBD URI scheme 'http'", "http://h/e");
        assertMessage("needs ?socket=PATH", "nbd+unix:///e");
        assertMessage("the socket parameter needs nbd+unix://", "nbd://h/e?socket=/x");
        assertMessage("need nbds://", "nbd://h/e?tls-certificates=/x");
        assertMessage("unknown NBD URI parameter bogus", "nbd://h/e?bogus=1");
        assertMessage("64 hex digits", "nbds://h/e?tls-fingerprint=abcd");
        assertMessage("TLS-PSK is not supported", "nbds://h/e?tls-psk-file=/k");
        assertMessage("needs both a certificate file and a key file", "nbds://h/e?tls-cert-file=/c");
        assertMessage("tls-verify-peer must be true or false", "nbds://h/e?tls-verify-peer=maybe");
        assertMessage("contradict", "nbds://h/e?tls-verify-peer=false&tls-fingerprint=" + "00".repeat(32));
        assertMessage("no host", "nbd:///e");
        assertMessage("has no scheme", "/dev/nbd0");
        assertMessage("given twice", "nbd+unix:///e?socket=/a&socket=/b");
    }

    @Test
    void cliTlsOptionsSwitchTlsOn() {
        NbdUri u = NbdUri.parse("nbd://h/e").withTls(new TlsOptions(null, Path.of("/ca"), null, null, null, true));
        assertTrue(u.tls());
        assertEquals("nbds://h:10809/e", u.toString());
    }

    @Test
    void fingerprintFormats() {
        byte[] a = TlsOptions.parseFingerprint("0123456789abcdef".repeat(4));
        assertEquals("0123456789abcdef".repeat(4), HexFormat.of().formatHex(a));
        assertArrayEquals(a, TlsOptions.parseFingerprint(HexFormat.ofDelimiter(":").withUpperCase().formatHex(a)));
    }

    private static void assertMessage(String fragment, String uri) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NbdUri.parse(uri), uri);
        assertTrue(e.getMessage().contains(fragment), () -> "message for " + uri + " was: " + e.getMessage());
    }
}
