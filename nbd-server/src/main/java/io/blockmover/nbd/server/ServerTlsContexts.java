package io.blockmover.nbd.server;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds the server's JDK-provider TLS context (no OpenSSL needed) from PEM files. */
final class ServerTlsContexts {
    private ServerTlsContexts() {}

    static SslContext build(ServerTls tls) throws IOException {
        requireReadable(tls.certificateChainPem(), "TLS certificate");
        requireReadable(tls.privateKeyPem(), "TLS private key");
        SslContextBuilder builder = SslContextBuilder.forServer(tls.certificateChainPem().toFile(), tls.privateKeyPem().toFile())
                .sslProvider(SslProvider.JDK)
                .protocols("TLSv1.3", "TLSv1.2");
        if (tls.clientCaPem().isPresent()) {
            Path ca = tls.clientCaPem().get();
            requireReadable(ca, "TLS client CA");
            // GnuTLS clients (libnbd, qemu) answer a JDK server's TLS 1.3 CertificateRequest with
            // an empty certificate list (seen with GnuTLS 3.7 and JDK 25, while the same
            // certificates work against GnuTLS servers), so client-certificate mode offers TLS 1.2.
            builder.trustManager(ca.toFile()).clientAuth(ClientAuth.REQUIRE).protocols("TLSv1.2");
        }
        try {
            return builder.build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IOException("cannot load TLS certificate " + tls.certificateChainPem() + " / key "
                    + tls.privateKeyPem() + ": " + e.getMessage(), e);
        }
    }

    private static void requireReadable(Path file, String what) throws IOException {
        if (!Files.isReadable(file)) {
            throw new IOException(what + " not readable: " + file);
        }
    }
}
