package io.blockmover.mover.vsphere;

import io.blockmover.mover.transport.ServerOnlyTrustManager;

import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.HexFormat;

/** The trust manager of a {@link TrustPolicy}. */
final class VcenterTrust {
    private VcenterTrust() {}

    static X509ExtendedTrustManager of(TrustPolicy policy) throws IOException {
        return switch (policy) {
            case TrustPolicy.Thumbprint t -> new Pinned(t.sha256());
            case TrustPolicy.CaFile c -> fromCa(c);
            case TrustPolicy.Insecure i -> new AcceptAll();
        };
    }

    private static X509ExtendedTrustManager fromCa(TrustPolicy.CaFile c) throws IOException {
        try (InputStream in = Files.newInputStream(c.pem())) {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            int n = 0;
            for (Certificate cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                ks.setCertificateEntry("ca-" + n++, cert);
            }
            if (n == 0) {
                throw new IOException("no certificate in the CA file " + c.pem());
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            for (TrustManager tm : tmf.getTrustManagers()) {
                if (tm instanceof X509ExtendedTrustManager x) {
                    return x;
                }
            }
            throw new IOException("the JDK offers no X.509 trust manager");
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot read the CA file " + c.pem() + ": " + e.getMessage(), e);
        }
    }

    static String sha256(X509Certificate cert) throws CertificateException {
        try {
            return HexFormat.ofDelimiter(":").withUpperCase()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    /**
     * Trusts the one certificate whose SHA-256 is pinned; the pin is the identity, so neither the
     * chain nor the host name is checked (how govc's --thumbprint and VDDK's thumbprints work).
     */
    private static final class Pinned extends ServerOnlyTrustManager {
        private final byte[] expected;

        Pinned(byte[] expected) {
            this.expected = expected.clone();
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            if (chain == null || chain.length == 0) {
                throw new CertificateException("vCenter sent no certificate");
            }
            try {
                byte[] actual = MessageDigest.getInstance("SHA-256").digest(chain[0].getEncoded());
                if (!MessageDigest.isEqual(actual, expected)) {
                    throw new CertificateException("vCenter certificate SHA-256 thumbprint " + sha256(chain[0])
                            + " does not match --thumbprint " + HexFormat.ofDelimiter(":").withUpperCase().formatHex(expected));
                }
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is part of every JDK", e);
            }
        }
    }

    private static final class AcceptAll extends ServerOnlyTrustManager {
        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
            // --insecure: the user chose to trust whatever answers
        }
    }
}
