package io.blockmover.mover.transport.nbd;

import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How to secure an NBD connection with X.509. The server certificate is checked against a
 * pinned SHA-256 fingerprint when one is given, else against a CA (the file given, else
 * {@code ca-cert.pem} in the certificates directory, else the JDK's trust store); it is not
 * checked at all only when {@code verifyPeer} is false. A client certificate is sent when a
 * certificate and key are given (or {@code client-cert.pem}/{@code client-key.pem} exist in the
 * certificates directory, the layout nbdkit and qemu use).
 *
 * @param certificates directory in the gnutls layout, or null
 * @param caFile       PEM bundle of trusted CAs, or null
 * @param certFile     PEM client certificate (chain), or null
 * @param keyFile      PEM PKCS#8 private key of the client certificate, or null
 * @param fingerprint  pinned SHA-256 of the server certificate's DER, 32 bytes, or null
 * @param verifyPeer   false only when the user explicitly accepts any server
 */
public record TlsOptions(Path certificates, Path caFile, Path certFile, Path keyFile, byte[] fingerprint,
                         boolean verifyPeer) {
    public static final TlsOptions NONE = new TlsOptions(null, null, null, null, null, true);

    static final List<String> PARAMETERS = List.of("tls-certificates", "tls-verify-peer", "tls-ca-file",
            "tls-cert-file", "tls-key-file", "tls-fingerprint");

    public TlsOptions {
        if ((certFile == null) != (keyFile == null)) {
            throw new IllegalArgumentException("a client certificate needs both a certificate file and a key file");
        }
        if (fingerprint != null && fingerprint.length != 32) {
            throw new IllegalArgumentException("a SHA-256 fingerprint has 32 bytes, not " + fingerprint.length);
        }
        if (fingerprint != null && !verifyPeer) {
            throw new IllegalArgumentException("a pinned fingerprint and tls-verify-peer=false contradict each other");
        }
        fingerprint = fingerprint == null ? null : fingerprint.clone();
    }

    /** Parses a fingerprint written as 64 hex digits, optionally separated by colons. */
    public static byte[] parseFingerprint(String text) {
        String hex = text.replace(":", "").trim().toLowerCase(Locale.ROOT);
        if (hex.length() != 64 || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            throw new IllegalArgumentException("a SHA-256 fingerprint is 64 hex digits (colons allowed), not '" + text + "'");
        }
        return HexFormat.of().parseHex(hex);
    }

    /** Takes (and removes) the TLS parameters from a URI query. */
    static TlsOptions fromQuery(Map<String, String> query, String uri) {
        Path dir = path(query.remove("tls-certificates"));
        Path ca = path(query.remove("tls-ca-file"));
        Path cert = path(query.remove("tls-cert-file"));
        Path key = path(query.remove("tls-key-file"));
        String fp = query.remove("tls-fingerprint");
        String verify = query.remove("tls-verify-peer");
        if (query.containsKey("tls-psk-file") || query.containsKey("tls-username")) {
            throw new IllegalArgumentException("TLS-PSK is not supported (Java's TLS has no PSK); use X.509 certificates in '" + uri + "'");
        }
        boolean verifyPeer = true;
        if (verify != null) {
            verifyPeer = switch (verify.toLowerCase(Locale.ROOT)) {
                case "true", "on", "yes", "1" -> true;
                case "false", "off", "no", "0" -> false;
                default -> throw new IllegalArgumentException("tls-verify-peer must be true or false, not '" + verify + "'");
            };
        }
        return new TlsOptions(dir, ca, cert, key, fp == null ? null : parseFingerprint(fp), verifyPeer);
    }

    private static Path path(String s) {
        if (s == null) {
            return null;
        }
        if (s.isEmpty()) {
            throw new IllegalArgumentException("a TLS file parameter is empty");
        }
        return Path.of(s);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TlsOptions t && java.util.Objects.equals(certificates, t.certificates)
                && java.util.Objects.equals(caFile, t.caFile) && java.util.Objects.equals(certFile, t.certFile)
                && java.util.Objects.equals(keyFile, t.keyFile)
                && java.util.Arrays.equals(fingerprint, t.fingerprint) && verifyPeer == t.verifyPeer;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(certificates, caFile, certFile, keyFile, java.util.Arrays.hashCode(fingerprint), verifyPeer);
    }

    @Override
    public byte[] fingerprint() {
        return fingerprint == null ? null : fingerprint.clone();
    }

    @Override
    public String toString() {
        return "TlsOptions[certificates=" + certificates + ", caFile=" + caFile + ", certFile=" + certFile
                + ", keyFile=" + keyFile + ", fingerprint=" + (fingerprint == null ? null : HexFormat.of().formatHex(fingerprint))
                + ", verifyPeer=" + verifyPeer + "]";
    }
}
