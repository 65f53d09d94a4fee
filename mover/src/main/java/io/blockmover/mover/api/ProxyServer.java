package io.blockmover.mover.api;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** The proxy's gRPC endpoint: {@link ProxyService} on a TCP address, plaintext or TLS, until closed. */
public final class ProxyServer implements AutoCloseable {
    private final Server server;
    private final ProxyService service;

    private ProxyServer(Server server, ProxyService service) {
        this.server = server;
        this.service = service;
    }

    /**
     * The certificate and key the proxy presents, and optionally the CA whose client
     * certificates it requires (mutual TLS: only schedulers holding one may call).
     */
    public record Tls(Path certificate, Path key, Optional<Path> clientCa) {}

    public static ProxyServer start(InetSocketAddress listen, ProxyService service, Optional<Tls> tls) throws IOException {
        NettyServerBuilder builder = NettyServerBuilder.forAddress(listen).addService(service);
        if (tls.isPresent()) {
            builder.sslContext(sslContext(tls.get()));
        }
        Server server = builder.build();
        try {
            server.start();
        } catch (IOException e) {
            throw new IOException("cannot listen on " + listen + ": " + e.getMessage(), e);
        }
        return new ProxyServer(server, service);
    }

    private static SslContext sslContext(Tls tls) throws IOException {
        try {
            SslContextBuilder ssl = GrpcSslContexts.forServer(tls.certificate().toFile(), tls.key().toFile());
            if (tls.clientCa().isPresent()) {
                ssl.trustManager(tls.clientCa().get().toFile()).clientAuth(ClientAuth.REQUIRE);
            }
            return ssl.build();
        } catch (IllegalArgumentException | javax.net.ssl.SSLException e) {
            throw new IOException("cannot use the proxy's TLS certificate " + tls.certificate() + " and key " + tls.key()
                    + ": " + e.getMessage(), e);
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.getListenSockets().getFirst();
    }

    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    /** Stops taking calls, cancels the running jobs (nothing partial becomes visible) and waits for them. */
    @Override
    public void close() throws InterruptedException {
        server.shutdown();
        service.cancelAll("the proxy is shutting down", 30_000);
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
            server.shutdownNow();
        }
        service.close();
    }
}
