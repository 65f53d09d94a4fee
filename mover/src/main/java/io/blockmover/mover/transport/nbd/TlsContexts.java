package io.blockmover.mover.transport.nbd;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.net.ssl.SSLException;

/**
 * Builds the client {@link SslContext} that {@link TlsOptions} describe: BoringSSL (netty-tcnative)
 * where its native library loads, the JDK's provider otherwise. The JDK's AES-GCM reaches its
 * speed only once C2 has compiled it, seconds into a copy; BoringSSL's is native from the start.
 */
final class TlsContexts {
    private TlsContexts() {}

    /**
     * @param verifyHostname check the certificate names the host we dialled (TCP with CA trust);
     *                       a pinned fingerprint identifies the server by itself
     */
    static SslContext forClient(TlsOptions options, boolean verifyHostname) throws IOException {
        SslContextBuilder b = SslContextBuilder.forClient().sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK);
        Path dir = options.certificates();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new IOException("TLS certificates directory " + dir + " does not exist");
        }
        boolean checkNames = false;
        if (!options.verifyPeer()) {
            b.trustManager(InsecureTrustManagerFactory.INSTANCE);
        } else if (options.fingerprint() != null) {
            b.trustManager(new PinnedCertificateTrustManager(options.fingerprint()));
        } else {
            Path ca = options.caFile() != null ? options.caFile() : inDir(dir, "ca-cert.pem");
            if (ca != null) {
                b.trustManager(readable(ca, "CA certificate").toFile());
            }
            checkNames = verifyHostname;
        }
        Path cert = options.certFile() != null ? options.certFile() : inDir(dir, "client-cert.pem");
        Path key = options.keyFile() != null ? options.keyFile() : inDir(dir, "client-key.pem");
        if (cert != null && key != null) {
            b.keyManager(readable(cert, "client certificate").toFile(), readable(key, "client key").toFile());
        }
        b.endpointIdentificationAlgorithm(checkNames ? "HTTPS" : null);
        try {
            return b.build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IOException("cannot set up TLS from " + options + ": " + e.getMessage(), e);
        }
    }

    private static Path inDir(Path dir, String name) {
        if (dir == null) {
            return null;
        }
        Path p = dir.resolve(name);
        return Files.exists(p) ? p : null;
    }

    private static Path readable(Path p, String what) throws IOException {
        if (!Files.isReadable(p)) {
            throw new IOException(what + " file " + p + " is missing or unreadable");
        }
        return p;
    }
}
