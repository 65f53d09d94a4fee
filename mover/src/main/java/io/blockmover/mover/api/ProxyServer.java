package io.blockmover.mover.api;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/** The proxy's gRPC endpoint: {@link ProxyService} on a TCP address, until closed. */
public final class ProxyServer implements AutoCloseable {
    private final Server server;
    private final ProxyService service;

    private ProxyServer(Server server, ProxyService service) {
        this.server = server;
        this.service = service;
    }

    public static ProxyServer start(InetSocketAddress listen, ProxyService service) throws IOException {
        Server server = NettyServerBuilder.forAddress(listen)
                .addService(service)
                .build();
        try {
            server.start();
        } catch (IOException e) {
            throw new IOException("cannot listen on " + listen + ": " + e.getMessage(), e);
        }
        return new ProxyServer(server, service);
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
