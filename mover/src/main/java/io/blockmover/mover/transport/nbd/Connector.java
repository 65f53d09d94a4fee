package io.blockmover.mover.transport.nbd;

import io.blockmover.nbd.protocol.ClientHandshakeCodec;
import io.blockmover.nbd.protocol.ReplyDecoder;
import io.blockmover.nbd.protocol.ReplyLengths;
import io.blockmover.nbd.protocol.RequestEncoder;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Opens one connection to an export and runs the handshake; on success the handshake
 * handlers are replaced by the transmission codec and the handler the caller supplies.
 */
final class Connector {
    private final NbdUri uri;
    private final ConnectOptions options;
    private final SslContext sslContext;
    private final boolean epoll = ClientEventLoops.EPOLL;

    Connector(NbdUri uri, ConnectOptions options) throws IOException {
        this.uri = uri;
        this.options = options;
        this.sslContext = uri.tls()
                ? TlsContexts.forClient(uri.tlsOptions(), uri.endpoint() instanceof NbdUri.Endpoint.Tcp)
                : null;
    }

    NbdUri uri() {
        return uri;
    }

    /** What a transmission-phase connection needs from its owner. */
    interface Transmission {
        ReplyLengths replyLengths();

        ChannelHandler handler();
    }

    /**
     * Connects on {@code loop}; the future completes on that loop with the channel in
     * transmission phase and what the handshake learnt.
     */
    CompletableFuture<Connected> connect(EventLoop loop, Function<Channel, Transmission> transmission) {
        if (!loop.inEventLoop()) {
            // Start on the loop so the completion below is registered before any reply arrives.
            CompletableFuture<Connected> out = new CompletableFuture<>();
            loop.execute(() -> connect(loop, transmission).whenComplete((c, e) -> {
                if (e != null) {
                    out.completeExceptionally(e);
                } else {
                    out.complete(c);
                }
            }));
            return out;
        }
        Handshake handshake = new Handshake(uri, sslContext, options);
        Bootstrap b = new Bootstrap().group(loop).channel(channelClass())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, options.timeouts().connect().toMillis()))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (ch instanceof EpollSocketChannel) {
                            ch.pipeline().addLast("quickack", QuickAck.INSTANCE);
                        }
                        ch.pipeline().addLast("handshake-codec", new ClientHandshakeCodec());
                        ch.pipeline().addLast("handshake", handshake);
                    }
                });
        if (uri.endpoint() instanceof NbdUri.Endpoint.Tcp) {
            b.option(ChannelOption.TCP_NODELAY, true);
        }
        // Reads of a megabyte arrive faster in a few large socket reads than in many 64 KiB
        // ones (measured: about +20% against nbdkit); the allocator shrinks again for small replies.
        b.option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(2048, 65536, 1 << 20));
        CompletableFuture<Connected> out = new CompletableFuture<>();
        ChannelFuture cf = b.connect(address());
        Channel ch = cf.channel();
        cf.addListener(f -> {
            if (!f.isSuccess()) {
                // Netty's native messages repeat themselves ("finishConnect(..) failed ...: /addr"):
                // keep the reason only; --debug still shows the original.
                String reason = Handshake.rootMessage(f.cause())
                        .replaceFirst("^finishConnect\\(\\.\\.\\) failed with error\\(-?\\d+\\): ", "")
                        .replaceFirst(": /\\S+$", "");
                IOException e = new IOException("cannot connect to " + uri.endpoint() + ": " + reason);
                e.addSuppressed(f.cause());
                out.completeExceptionally(e);
            }
        });
        var timer = loop.schedule(() -> {
            if (!handshake.result().isDone()) {
                handshake.result().completeExceptionally(new IOException("no NBD handshake from " + uri.endpoint()
                        + " within " + options.timeouts().connect().toSeconds() + " s"));
                ch.close();
            }
        }, options.timeouts().connect().toMillis(), TimeUnit.MILLISECONDS);
        handshake.result().whenComplete((info, err) -> {
            timer.cancel(false);
            if (err != null) {
                ch.close();
                out.completeExceptionally(err);
                return;
            }
            // Runs on the event loop inside the handshake's channelRead: no bytes are decoded
            // between these pipeline changes.
            Transmission t = transmission.apply(ch);
            // Room for the largest READ chunk and for a block status chunk of 2^20 descriptors (8 MiB).
            ReplyDecoder decoder = new ReplyDecoder(t.replyLengths(), Math.max(info.blockConstraints().maximum(), 8 << 20) + 4096);
            // Keep receive buffers as they are and slice reads out of them (no copy).
            decoder.setCumulator(AppendingCumulator.INSTANCE);
            ch.pipeline().remove("handshake");
            ch.pipeline().replace("handshake-codec", "reply-decoder", decoder);
            ch.pipeline().addAfter("reply-decoder", "request-encoder", new RequestEncoder());
            ch.pipeline().addLast("transmission", t.handler());
            out.complete(new Connected(ch, info));
        });
        return out;
    }

    record Connected(Channel channel, ExportInfo info) {}

    private Class<? extends Channel> channelClass() {
        boolean unix = uri.endpoint() instanceof NbdUri.Endpoint.Unix;
        if (epoll) {
            return unix ? EpollDomainSocketChannel.class : EpollSocketChannel.class;
        }
        return unix ? NioDomainSocketChannel.class : NioSocketChannel.class;
    }

    private SocketAddress address() {
        return switch (uri.endpoint()) {
            case NbdUri.Endpoint.Tcp t -> new InetSocketAddress(t.host(), t.port());
            case NbdUri.Endpoint.Unix u -> epoll ? new DomainSocketAddress(u.socket().toFile())
                    : UnixDomainSocketAddress.of(u.socket());
        };
    }
}
