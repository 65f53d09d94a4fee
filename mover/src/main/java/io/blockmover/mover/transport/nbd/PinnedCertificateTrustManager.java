package io.blockmover.mover.transport.nbd;

import io.blockmover.mover.transport.ServerOnlyTrustManager;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;

/**
 * Trusts exactly one server certificate, identified by the SHA-256 of its DER encoding (how
 * VMware users pin host thumbprints). Chain, expiry and names are deliberately not checked:
 * the pin is the identity.
 */
final class PinnedCertificateTrustManager extends ServerOnlyTrustManager {
    private final byte[] expected;

    PinnedCertificateTrustManager(byte[] sha256) {
        this.expected = sha256.clone();
    }

    static byte[] fingerprint(X509Certificate cert) throws CertificateEncodingException {
        try {
            return MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("server sent no certificate");
        }
        byte[] actual = fingerprint(chain[0]);
        if (!MessageDigest.isEqual(actual, expected)) {
            throw new CertificateException("server certificate SHA-256 fingerprint " + HexFormat.ofDelimiter(":").formatHex(actual)
                    + " does not match the pinned " + HexFormat.ofDelimiter(":").formatHex(expected));
        }
    }
}
