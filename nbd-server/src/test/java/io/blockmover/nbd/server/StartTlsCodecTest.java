package io.blockmover.nbd.server;

import io.blockmover.nbd.protocol.ClientCodec;
import io.blockmover.nbd.protocol.ClientFlags;
import io.blockmover.nbd.protocol.ClientHandshakeCodec;
import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;
import io.blockmover.nbd.protocol.OptionReply;
import io.blockmover.nbd.protocol.OptionRequest;
import io.blockmover.nbd.protocol.ServerGreeting;
import io.blockmover.nbd.testing.MemoryBlockDevice;
import io.blockmover.nbd.testing.StaticCatalog;
import io.blockmover.nbd.testing.TestCertificates;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.blockmover.nbd.protocol.NbdConstants.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * STARTTLS end to end with our own client-side codecs and JDK TLS on both ends: the ACK arrives
 * in clear text, the client then puts an SslHandler in front of the same handshake codec, and
 * negotiation continues encrypted up to a READ. This is the sequence the mover's client follows.
 */
class StartTlsCodecTest {

    @Test
    void startTlsThenGoThenRead(@TempDir Path dir) throws Exception {
        TestCertificates certs = TestCertificates.create(dir);
        MemoryBlockDevice device = new MemoryBlockDevice(1 << 20);
        byte[] data = "secret block".getBytes();
        device.fill(4096, data);
        SslContext clientTls = SslContextBuilder.forClient().trustManager(certs.caCert().toFile())
                .keyManager(certs.clientCert().toFile(), certs.clientKey().toFile()).build();
        try (NbdServer server = NbdServer.start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0))
                        .withTls(new ServerTls(certs.serverCert(), certs.serverKey(), Optional.of(certs.caCert()), true)),
                StaticCatalog.of(new ExportCatalog.Export("disk", "", device)))) {
            EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
            CompletableFuture<byte[]> result = new CompletableFuture<>();
            try {
                Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                        .handler(new ChannelInitializer<>() {
                            @Override
                            protected void initChannel(Channel c) {
                                c.pipeline().addLast("handshake", new ClientHandshakeCodec())
                                        .addLast("script", new Script(clientTls, result));
                            }
                        }).connect(server.localAddress()).sync().channel();
                assertArrayEquals(data, result.get(30, TimeUnit.SECONDS));
                ch.close().sync();
            } finally {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            }
        }
    }

    /** The client side of the exchange, one step per message received. */
    private static final class Script extends SimpleChannelInboundHandler<Object> {
        private final SslContext tls;
        private final CompletableFuture<byte[]> result;
        private int step;

        Script(SslContext tls, CompletableFuture<byte[]> result) {
            this.tls = tls;
            this.result = result;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Object msg) {
            try {
                switch (step++) {
                    case 0 -> {
                        assertInstanceOf(ServerGreeting.class, msg);
                        ctx.write(ClientFlags.FIXED_NEWSTYLE_NO_ZEROES);
                        ctx.writeAndFlush(new OptionRequest.StructuredReply());
                    }
                    case 1 -> {
                        assertEquals(REP_ERR_TLS_REQD, ((OptionReply.Error) msg).type(), "TLS first");
                        ctx.writeAndFlush(new OptionRequest.StartTls());
                    }
                    case 2 -> {
                        assertEquals(new OptionReply.Ack(OPT_STARTTLS), msg);
                        SslHandler ssl = tls.newHandler(ctx.alloc(), "127.0.0.1", 0);
                        ctx.pipeline().addFirst("tls", ssl);
                        ssl.handshakeFuture().addListener(f -> {
                            if (!f.isSuccess()) {
                                result.completeExceptionally(f.cause());
                                return;
                            }
                            ctx.write(new OptionRequest.StructuredReply());
                            ctx.writeAndFlush(new OptionRequest.Info(true, "disk", List.of(INFO_BLOCK_SIZE)));
                        });
                    }
                    case 3 -> {
                        assertEquals(new OptionReply.Ack(OPT_STRUCTURED_REPLY), msg);
                    }
                    case 4, 5 -> assertInstanceOf(OptionReply.Info.class, msg);
                    case 6 -> {
                        assertEquals(new OptionReply.Ack(OPT_GO), msg);
                        ctx.pipeline().addAfter("handshake", "codec", new ClientCodec(cookie -> 0));
                        ctx.pipeline().remove("handshake");
                        ctx.writeAndFlush(NbdRequest.read(1, 4096, 12, 0));
                    }
                    case 7 -> {
                        NbdReply.OffsetData d = (NbdReply.OffsetData) msg;
                        result.complete(ByteBufUtil.getBytes(d.data()));
                    }
                    default -> fail("unexpected " + msg);
                }
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            result.completeExceptionally(cause);
            ctx.close();
        }
    }
}
