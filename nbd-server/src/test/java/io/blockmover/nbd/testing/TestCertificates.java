package io.blockmover.nbd.testing;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A throw-away X.509 PKI for TLS tests: a CA, a server certificate for 127.0.0.1 and localhost,
 * and a client certificate, as PEM files in one directory. The file names are the ones libnbd
 * ({@code tls-certificates=DIR}) and nbdkit ({@code --tls-certificates=DIR}) look for:
 * {@code ca-cert.pem}, {@code server-cert.pem}, {@code server-key.pem}, {@code client-cert.pem},
 * {@code client-key.pem}. Keys are unencrypted PKCS#8, which JDK, Netty and GnuTLS all read.
 *
 * @param serverSha256 SHA-256 of the server certificate's DER encoding, for fingerprint pinning
 */
public record TestCertificates(Path dir, Path caCert, Path caKey, Path serverCert, Path serverKey,
                               Path clientCert, Path clientKey, byte[] serverSha256) {

    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

    /** Creates a fresh CA, server and client certificate in {@code dir} (created if needed). */
    public static TestCertificates create(Path dir) {
        try {
            Files.createDirectories(dir);
            Instant now = Instant.now();
            KeyPair ca = keyPair();
            X500Name caName = new X500Name("CN=blockmover test CA");
            X509CertificateHolder caHolder = certificate(caName, ca, caName, ca, now, true, null, null);

            KeyPair server = keyPair();
            GeneralNames serverNames = new GeneralNames(new GeneralName[] {
                    new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
                    new GeneralName(GeneralName.dNSName, "localhost")});
            X509CertificateHolder serverHolder = certificate(new X500Name("CN=localhost"), server, caName, ca, now, false,
                    KeyPurposeId.id_kp_serverAuth, serverNames);

            KeyPair client = keyPair();
            X509CertificateHolder clientHolder = certificate(new X500Name("CN=blockmover test client"), client, caName, ca,
                    now, false, KeyPurposeId.id_kp_clientAuth, null);

            TestCertificates certs = new TestCertificates(dir, dir.resolve("ca-cert.pem"), dir.resolve("ca-key.pem"),
                    dir.resolve("server-cert.pem"), dir.resolve("server-key.pem"),
                    dir.resolve("client-cert.pem"), dir.resolve("client-key.pem"),
                    MessageDigest.getInstance("SHA-256").digest(serverHolder.getEncoded()));
            writePem(certs.caCert, "CERTIFICATE", caHolder.getEncoded());
            writePem(certs.caKey, "PRIVATE KEY", ca.getPrivate().getEncoded());
            writePem(certs.serverCert, "CERTIFICATE", serverHolder.getEncoded());
            writePem(certs.serverKey, "PRIVATE KEY", server.getPrivate().getEncoded());
            writePem(certs.clientCert, "CERTIFICATE", clientHolder.getEncoded());
            writePem(certs.clientKey, "PRIVATE KEY", client.getPrivate().getEncoded());
            return certs;
        } catch (IOException | GeneralSecurityException | org.bouncycastle.operator.OperatorCreationException e) {
            throw new IllegalStateException("cannot create test certificates in " + dir, e);
        }
    }

    /** The server fingerprint as lower-case hex, 64 digits. */
    public String serverSha256Hex() {
        return HexFormat.of().formatHex(serverSha256);
    }

    /**
     * RSA rather than EC: the JDK encodes EC private keys without the optional public key,
     * which GnuTLS (libnbd, nbdkit) refuses to import.
     */
    private static KeyPair keyPair() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        return g.generateKeyPair();
    }

    private static X509CertificateHolder certificate(X500Name subject, KeyPair subjectKeys, X500Name issuer,
                                                     KeyPair issuerKeys, Instant now, boolean isCa,
                                                     KeyPurposeId purpose, GeneralNames altNames)
            throws GeneralSecurityException, IOException, org.bouncycastle.operator.OperatorCreationException {
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer,
                BigInteger.valueOf(SERIAL.incrementAndGet()),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(2))),
                subject, subjectKeys.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(isCa));
        b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(subjectKeys.getPublic()));
        b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(issuerKeys.getPublic()));
        if (isCa) {
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        } else {
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose));
        }
        if (altNames != null) {
            b.addExtension(Extension.subjectAlternativeName, false, altNames);
        }
        return b.build(new JcaContentSignerBuilder("SHA256withRSA").build(issuerKeys.getPrivate()));
    }

    private static void writePem(Path file, String type, byte[] der) throws IOException {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
        Files.writeString(file, "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n");
    }
}
