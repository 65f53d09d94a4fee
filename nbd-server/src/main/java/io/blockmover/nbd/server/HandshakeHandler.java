package io.blockmover.nbd.server;

import io.blockmover.nbd.protocol.ClientFlags;
import io.blockmover.nbd.protocol.ExportNameReply;
import io.blockmover.nbd.protocol.InfoItem;
import io.blockmover.nbd.protocol.NbdProtocolException;
import io.blockmover.nbd.protocol.OptionReply;
import io.blockmover.nbd.protocol.OptionRequest;
import io.blockmover.nbd.protocol.ServerCodec;
import io.blockmover.nbd.protocol.ServerGreeting;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * Option haggling for one connection: greets, answers options, runs STARTTLS, and on GO or
 * EXPORT_NAME replaces the handshake codec with the transmission codec and a
 * {@link TransmissionHandler}. Unknown or malformed options get the protocol's error replies;
 * only a broken stream (bad magic, unknown client flags) closes the connection.
 */
final class HandshakeHandler extends SimpleChannelInboundHandler<Object> {
    private static final Logger LOG = LoggerFactory.getLogger(HandshakeHandler.class);

    static final String CODEC = "nbd-handshake-codec";
    static final String HANDLER = "nbd-handshake";

    private final NbdServerConfig config;
    private final ExportCatalog catalog;
    private final Optional<SslContext> sslContext;
    private final long connectionId;
    private final RequestDispatcher dispatcher;

    private boolean clientNoZeroes;
    private boolean tlsActive;
    private boolean structuredReplies;
    private String contextsExport;
    private List<String> contextNames = List.of();
    private ScheduledFuture<?> timeout;

    HandshakeHandler(NbdServerConfig config, ExportCatalog catalog, Optional<SslContext> sslContext,
                     long connectionId, RequestDispatcher dispatcher) {
        this.config = config;
        this.catalog = catalog;
        this.sslContext = sslContext;
        this.connectionId = connectionId;
        this.dispatcher = dispatcher;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        timeout = ctx.executor().schedule(() -> {
            LOG.debug("connection {}: handshake not finished within {}, closing", connectionId, config.handshakeTimeout());
            ctx.close();
        }, config.handshakeTimeout().toNanos(), TimeUnit.NANOSECONDS);
        ctx.writeAndFlush(ServerGreeting.FIXED_NEWSTYLE_NO_ZEROES);
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancelTimeout();
        ctx.fireChannelInactive();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Object msg) {
        switch (msg) {
            case ClientFlags flags -> onClientFlags(ctx, flags);
            case OptionRequest option -> onOption(ctx, option);
            default -> throw new IllegalStateException("unexpected handshake message " + msg);
        }
        // A client that sends options without reading the replies must not make us queue
        // replies without bound: stop reading until the socket drains.
        if (!ctx.channel().isWritable() && ctx.channel().config().isAutoRead()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && !ctx.channel().config().isAutoRead()) {
            ctx.channel().config().setAutoRead(true);
        }
        ctx.fireChannelWritabilityChanged();
    }

    private void onClientFlags(ChannelHandlerContext ctx, ClientFlags flags) {
        if (flags.unknownBits() != 0) {
            LOG.debug("connection {}: unknown client flags 0x{}, closing", connectionId, Integer.toHexString(flags.flags()));
            ctx.close();
            return;
        }
        clientNoZeroes = flags.noZeroes();
    }

    private void onOption(ChannelHandlerContext ctx, OptionRequest option) {
        int opt = option.option();
        boolean tlsPending = config.tls().map(ServerTls::required).orElse(false) && !tlsActive;
        if (tlsPending && !(option instanceof OptionRequest.StartTls) && !(option instanceof OptionRequest.Abort)) {
            if (option instanceof OptionRequest.ExportName) {
                LOG.debug("connection {}: EXPORT_NAME without TLS on a TLS-only server, closing", connectionId);
                ctx.close();
            } else {
                error(ctx, opt, REP_ERR_TLS_REQD, "this server requires TLS: use STARTTLS first");
            }
            return;
        }
        switch (option) {
            case OptionRequest.Abort a -> ctx.writeAndFlush(new OptionReply.Ack(opt)).addListener(ChannelFutureListener.CLOSE);
            case OptionRequest.ListExports l -> {
                for (ExportCatalog.Export e : catalog.list()) {
                    ctx.write(new OptionReply.Server(opt, e.name(), e.description()));
                }
                ctx.writeAndFlush(new OptionReply.Ack(opt));
            }
            case OptionRequest.StartTls s -> startTls(ctx, opt);
            case OptionRequest.StructuredReply s -> {
                if (structuredReplies) {
                    error(ctx, opt, REP_ERR_INVALID, "structured replies already negotiated");
                } else {
                    structuredReplies = true;
                    ctx.writeAndFlush(new OptionReply.Ack(opt));
                }
            }
            case OptionRequest.MetaContext m -> metaContext(ctx, m);
            case OptionRequest.Info i -> info(ctx, i);
            case OptionRequest.ExportName e -> exportName(ctx, e);
            case OptionRequest.ExtendedHeaders x -> error(ctx, opt, REP_ERR_UNSUP, "extended headers are not supported");
            case OptionRequest.TooBig t -> {
                if (opt == OPT_EXPORT_NAME) {
                    ctx.close();
                } else {
                    error(ctx, opt, REP_ERR_TOO_BIG, "option data of " + t.length() + " bytes is too large");
                }
            }
            case OptionRequest.Malformed m -> {
                if (opt == OPT_EXPORT_NAME) {
                    ctx.close();
                } else {
                    error(ctx, opt, REP_ERR_INVALID, m.reason());
                }
            }
            case OptionRequest.Unknown u -> error(ctx, opt, REP_ERR_UNSUP, "unsupported option " + opt);
        }
    }

    private void startTls(ChannelHandlerContext ctx, int opt) {
        if (sslContext.isEmpty()) {
            error(ctx, opt, REP_ERR_UNSUP, "TLS is not configured on this server");
            return;
        }
        if (tlsActive) {
            error(ctx, opt, REP_ERR_INVALID, "TLS is already active");
            return;
        }
        // The ACK goes out in clear text: it is encoded and queued before the SslHandler exists.
        ctx.writeAndFlush(new OptionReply.Ack(opt));
        SslHandler ssl = sslContext.get().newHandler(ctx.alloc());
        ctx.pipeline().addFirst("tls", ssl);
        ssl.handshakeFuture().addListener(f -> {
            if (!f.isSuccess()) {
                LOG.info("connection {} from {}: TLS handshake failed: {}", connectionId, ctx.channel().remoteAddress(),
                        f.cause().toString());
                ctx.close();
            }
        });
        tlsActive = true;
        // STARTTLS discards everything negotiated before it.
        structuredReplies = false;
        contextsExport = null;
        contextNames = List.of();
    }

    private void metaContext(ChannelHandlerContext ctx, OptionRequest.MetaContext m) {
        int opt = m.option();
        if (m.set() && !structuredReplies) {
            error(ctx, opt, REP_ERR_INVALID, "SET_META_CONTEXT needs structured replies first");
            return;
        }
        Optional<ExportCatalog.Export> export = catalog.find(m.exportName());
        if (export.isEmpty()) {
            error(ctx, opt, REP_ERR_UNKNOWN, "no export named '" + m.exportName() + "'");
            return;
        }
        List<String> names = MetaContexts.names(export.get().device(), m.queries());
        if (m.set()) {
            // Only exact names are selected; each gets its connection-wide id.
            List<ActiveContext> active = MetaContexts.activate(export.get().device(), names);
            for (ActiveContext c : active) {
                ctx.write(new OptionReply.MetaContext(opt, c.id(), c.name()));
            }
            contextsExport = m.exportName();
            contextNames = names;
        } else {
            for (String name : names) {
                ctx.write(new OptionReply.MetaContext(opt, 0, name));
            }
        }
        ctx.writeAndFlush(new OptionReply.Ack(opt));
    }

    private void info(ChannelHandlerContext ctx, OptionRequest.Info info) {
        int opt = info.option();
        Optional<ExportCatalog.Export> found = catalog.find(info.exportName());
        if (found.isEmpty()) {
            error(ctx, opt, REP_ERR_UNKNOWN, "no export named '" + info.exportName() + "'");
            return;
        }
        ExportCatalog.Export export = found.get();
        BlockDevice device = export.device();
        ctx.write(new OptionReply.Info(opt, new InfoItem.Export(device.size(), transmissionFlags(device))));
        if (info.infoRequests().contains(INFO_NAME)) {
            ctx.write(new OptionReply.Info(opt, new InfoItem.Name(export.name())));
        }
        if (info.infoRequests().contains(INFO_DESCRIPTION) && !export.description().isEmpty()) {
            ctx.write(new OptionReply.Info(opt, new InfoItem.Description(export.description())));
        }
        BlockSizes sizes = device.blockSizes();
        ctx.write(new OptionReply.Info(opt, new InfoItem.BlockSize(sizes.minimum(), sizes.preferred(), sizes.maximumPayload())));
        ctx.writeAndFlush(new OptionReply.Ack(opt));
        if (info.go()) {
            startTransmission(ctx, export);
        }
    }

    private void exportName(ChannelHandlerContext ctx, OptionRequest.ExportName option) {
        Optional<ExportCatalog.Export> found = catalog.find(option.exportName());
        if (found.isEmpty()) {
            // EXPORT_NAME has no error reply: the spec's answer to an unknown name is to hang up.
            LOG.debug("connection {}: EXPORT_NAME of unknown export '{}', closing", connectionId, option.exportName());
            ctx.close();
            return;
        }
        BlockDevice device = found.get().device();
        ctx.writeAndFlush(new ExportNameReply(device.size(), transmissionFlags(device), !clientNoZeroes));
        startTransmission(ctx, found.get());
    }

    private int transmissionFlags(BlockDevice device) {
        int flags = FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_SEND_FUA | FLAG_SEND_CACHE | FLAG_CAN_MULTI_CONN;
        if (structuredReplies) {
            flags |= FLAG_SEND_DF;
        }
        if (device.isReadOnly()) {
            flags |= FLAG_READ_ONLY;
        } else {
            flags |= FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES | FLAG_SEND_FAST_ZERO;
        }
        return flags;
    }

    private void startTransmission(ChannelHandlerContext ctx, ExportCatalog.Export export) {
        cancelTimeout();
        List<ActiveContext> contexts = structuredReplies && export.name().equals(contextsExport)
                ? MetaContexts.activate(export.device(), contextNames)
                : List.of();
        Session session = new Session(connectionId, export, structuredReplies, contexts);
        LOG.debug("connection {}: transmission on '{}' (structured={}, contexts={}, tls={})",
                connectionId, export.name(), structuredReplies, contexts.size(), tlsActive);
        ctx.pipeline().addAfter(HANDLER, TransmissionHandler.CODEC, new ServerCodec(export.device().blockSizes().maximumPayload()));
        ctx.pipeline().addAfter(TransmissionHandler.CODEC, TransmissionHandler.HANDLER,
                new TransmissionHandler(session, config, dispatcher));
        // Removing the handshake decoder hands any bytes it already holds to the new decoder.
        ctx.pipeline().remove(HANDLER);
        ctx.pipeline().remove(CODEC);
        // Transmission has its own read budget; undo any pause for slow option replies.
        ctx.channel().config().setAutoRead(true);
    }

    private void error(ChannelHandlerContext ctx, int option, int type, String message) {
        ctx.writeAndFlush(new OptionReply.Error(option, type, message));
    }

    private void cancelTimeout() {
        if (timeout != null) {
            timeout.cancel(false);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof NbdProtocolException || cause.getCause() instanceof NbdProtocolException) {
            LOG.debug("connection {}: protocol error in handshake: {}", connectionId, cause.getMessage());
        } else {
            LOG.debug("connection {}: closing after {}", connectionId, cause.toString());
        }
        ctx.close();
    }
}
