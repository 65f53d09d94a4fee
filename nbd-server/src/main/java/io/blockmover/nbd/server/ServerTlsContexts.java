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
            builder.trustManager(ca.toFile()).clientAuth(ClientAuth.REQUIRE);
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
