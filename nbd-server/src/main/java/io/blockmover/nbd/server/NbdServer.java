package io.blockmover.nbd.server;

import io.blockmover.nbd.protocol.ServerHandshakeCodec;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.GlobalEventExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A standard NBD server (fixed newstyle, structured replies, block status, STARTTLS) over the
 * exports of an {@link ExportCatalog}. Real clients (qemu, libnbd's nbdinfo/nbdcopy, our own)
 * talk to it; it is the network face of the emulated ESX host.
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NbdServer.class);

    /**
     * Buffers of every connection. Netty 4.2's default adaptive allocator gives each buffer above
     * its size classes (our 256 KiB READ replies) a fresh, zero-filled DirectByteBuffer; this pool
     * carves them from 4 MiB arena chunks (8 KiB pages, order 9), reusing memory freed moments
     * ago and still in cache. READs up to 4 MiB (nbdcopy asks 256 KiB, our backups their chunk
     * size) are pooled, larger ones allocated once each; an idle arena keeps one chunk. Only event
     * loops get thread caches: a cache per virtual thread (one per request) would cost more than
     * it saves.
     */
    private static final PooledByteBufAllocator ALLOCATOR = new PooledByteBufAllocator(true,
            PooledByteBufAllocator.defaultNumHeapArena(), PooledByteBufAllocator.defaultNumDirectArena(),
            8192, 9, PooledByteBufAllocator.defaultSmallCacheSize(), PooledByteBufAllocator.defaultNormalCacheSize(), false);

    private final EventLoopGroup group;
    private final Channel serverChannel;
    private final ChannelGroup connections;
    private final RequestDispatcher dispatcher;
    private final ConnectionCount count;
    private final SocketAddress bind;

    private NbdServer(EventLoopGroup group, Channel serverChannel, ChannelGroup connections, RequestDispatcher dispatcher,
                      ConnectionCount count, SocketAddress bind) {
        this.count = count;
        this.bind = bind;
        this.group = group;
        this.serverChannel = serverChannel;
        this.connections = connections;
        this.dispatcher = dispatcher;
    }

    /**
     * Binds and starts serving. Fails with an IOException when the address cannot be bound or
     * the TLS files cannot be loaded ({@link InterruptedIOException}, interrupt flag kept, when
     * interrupted while binding).
     */
    public static NbdServer start(NbdServerConfig config, ExportCatalog catalog) throws IOException {
        Optional<SslContext> ssl = config.tls().isPresent()
                ? Optional.of(ServerTlsContexts.build(config.tls().get()))
                : Optional.empty();
        IoTransport transport = IoTransport.best(config.bind());
        EventLoopGroup group = transport.newGroup(0);
        ChannelGroup connections = new DefaultChannelGroup("nbd-connections", GlobalEventExecutor.INSTANCE);
        RequestDispatcher dispatcher = new RequestDispatcher();
        AtomicLong connectionIds = new AtomicLong();
        ConnectionCount count = new ConnectionCount();
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(transport.serverChannel())
                .childOption(ChannelOption.ALLOCATOR, ALLOCATOR)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.add(ch);
                        count.opened();
                        ch.closeFuture().addListener(f -> count.closed());
                        if (!transport.isUnix()) {
                            ch.config().setOption(ChannelOption.TCP_NODELAY, true);
                        }
                        long id = connectionIds.incrementAndGet();
                        ch.pipeline()
                                .addLast(HandshakeHandler.CODEC, new ServerHandshakeCodec())
                                .addLast(HandshakeHandler.HANDLER, new HandshakeHandler(config, catalog, ssl, id, dispatcher));
                    }
                });
        if (!transport.isUnix()) {
            bootstrap.option(ChannelOption.SO_REUSEADDR, true);
        }
        try {
            Channel channel = bootstrap.bind(transport.bind()).sync().channel();
            NbdServer server = new NbdServer(group, channel, connections, dispatcher, count, config.bind());
            LOG.info("NBD server listening on {} ({}{})", server.endpoint(), transport.name(),
                    config.tls().map(t -> t.required() ? ", TLS required" : ", TLS optional").orElse(""));
            return server;
        } catch (Exception e) {
            group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            dispatcher.close();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while binding " + config.bind());
            }
            throw new IOException("cannot listen on " + config.bind() + ": " + e.getMessage(), e);
        }
    }

    /** The bound TCP address, with the real port when the config asked for port 0. */
    public InetSocketAddress localAddress() {
        if (!(serverChannel.localAddress() instanceof InetSocketAddress a)) {
            throw new IllegalStateException("this server listens on a Unix socket: " + serverChannel.localAddress());
        }
        return a;
    }

    /** Where clients connect, as nbd URIs write it: {@code HOST:PORT} or the Unix socket's path. */
    public String endpoint() {
        return bind instanceof UnixDomainSocketAddress u ? u.getPath().toString()
                : localAddress().getHostString() + ":" + localAddress().getPort();
    }

    /** Client connections open now and at most at once. */
    public ConnectionCount connectionCount() {
        return count;
    }

    /** Stops listening, closes every connection and releases threads. */
    @Override
    public void close() {
        serverChannel.close().awaitUninterruptibly();
        connections.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        dispatcher.close();
        if (bind instanceof UnixDomainSocketAddress u) {
            try {
                Files.deleteIfExists(u.getPath());
            } catch (IOException e) {
                LOG.warn("cannot remove the socket {}: {}", u.getPath(), e.toString());
            }
        }
    }
}
