package io.blockmover.mover.api;

import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The proxy's gRPC endpoint: {@link ProxyService}, the standard health service (SERVING until
 * shutdown begins, so a load balancer drains the proxy first) and server reflection (grpcurl
 * needs no .proto), behind {@link AuthInterceptor}, on a TCP address, plaintext or TLS.
 */
public final class ProxyServer implements AutoCloseable {
    private final Server server;
    private final ProxyService service;
    private final HealthStatusManager health;

    private ProxyServer(Server server, ProxyService service, HealthStatusManager health) {
        this.server = server;
        this.service = service;
        this.health = health;
    }

    /**
     * The certificate and key the proxy presents, and optionally the CA whose client
     * certificates it verifies (mutual TLS).
     */
    public record Tls(Path certificate, Path key, Optional<Path> clientCa) {}

    public static ProxyServer start(InetSocketAddress listen, ProxyService service, Optional<Tls> tls, Credentials credentials)
            throws IOException {
        HealthStatusManager health = new HealthStatusManager();
        NettyServerBuilder builder = NettyServerBuilder.forAddress(listen)
                .addService(service)
                .addService(health.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance())
                .intercept(new AuthInterceptor(credentials))
                .maxInboundMessageSize(RequestLimits.MAX_MESSAGE_BYTES);
        if (tls.isPresent()) {
            // With tokens too, a client certificate is one way in, not the only one.
            builder.sslContext(sslContext(tls.get(), credentials.hasTokens() ? ClientAuth.OPTIONAL : ClientAuth.REQUIRE));
        }
        Server server = builder.build();
        try {
            server.start();
        } catch (IOException e) {
            throw new IOException("cannot listen on " + listen + ": " + e.getMessage(), e);
        }
        health.setStatus("", ServingStatus.SERVING);
        health.setStatus(io.blockmover.mover.api.v1.BackupProxyGrpc.SERVICE_NAME, ServingStatus.SERVING);
        return new ProxyServer(server, service, health);
    }

    private static SslContext sslContext(Tls tls, ClientAuth clientAuth) throws IOException {
        try {
            SslContextBuilder ssl = GrpcSslContexts.forServer(tls.certificate().toFile(), tls.key().toFile());
            if (tls.clientCa().isPresent()) {
                ssl.trustManager(tls.clientCa().get().toFile()).clientAuth(clientAuth);
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

    /** Reports NOT_SERVING, stops taking calls, cancels the jobs (nothing partial becomes visible) and waits for them. */
    @Override
    public void close() throws InterruptedException {
        health.enterTerminalState();
        server.shutdown();
        service.cancelAll("the proxy is shutting down", 30_000);
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
            server.shutdownNow();
        }
        service.close();
    }
}
