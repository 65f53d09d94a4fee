package io.blockmover.mover.transport.nbd;

import static io.blockmover.nbd.protocol.NbdConstants.*;

import io.blockmover.mover.transport.BlockConstraints;
import io.blockmover.nbd.protocol.ClientFlags;
import io.blockmover.nbd.protocol.ExportNameReply;
import io.blockmover.nbd.protocol.InfoItem;
import io.blockmover.nbd.protocol.NbdProtocolException;
import io.blockmover.nbd.protocol.OptionReply;
import io.blockmover.nbd.protocol.OptionRequest;
import io.blockmover.nbd.protocol.ServerGreeting;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The client side of the fixed-newstyle handshake, one option at a time: STARTTLS first when
 * TLS is wanted, then STRUCTURED_REPLY, the meta contexts, and GO with a block-size request
 * (EXPORT_NAME only for servers that do not know GO). Completes {@link #result()} with what it
 * learnt, or with a {@link NbdHandshakeException} that says what the server refused.
 */
final class Handshake extends ChannelInboundHandlerAdapter {
    private enum State { GREETING, STARTTLS, TLS_HANDSHAKE, STRUCTURED, LIST, SET, GO, EXPORT_NAME, DONE }

    private final NbdUri uri;
    private final SslContext sslContext;
    private final ConnectOptions options;
    private final CompletableFuture<ExportInfo> result = new CompletableFuture<>();

    private State state = State.GREETING;
    private boolean structured;
    private final Map<String, Integer> contexts = new LinkedHashMap<>();
    private final List<String> available = new ArrayList<>();
    private InfoItem.Export export;
    private InfoItem.BlockSize blockSize;
    private String description = "";

    Handshake(NbdUri uri, SslContext sslContext, ConnectOptions options) {
        this.uri = uri;
        this.sslContext = sslContext;
        this.options = options;
    }

    CompletableFuture<ExportInfo> result() {
        return result;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (!result.isDone()) {
                step(ctx, msg);
            }
        } catch (IOException e) {
            fail(ctx, e);
        } catch (IllegalArgumentException e) {
            fail(ctx, new NbdProtocolViolationException("invalid handshake reply from " + uri + ": " + e.getMessage(), e));
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void step(ChannelHandlerContext ctx, Object msg) throws IOException {
        switch (state) {
            case GREETING -> {
                ServerGreeting g = expect(msg, ServerGreeting.class);
                if (!g.fixedNewstyle()) {
                    throw new NbdHandshakeException("server " + uri.endpoint()
                            + " does not speak the fixed-newstyle NBD handshake (too old)");
                }
                int flags = FLAG_C_FIXED_NEWSTYLE | (g.noZeroes() ? FLAG_C_NO_ZEROES : 0);
                ctx.write(new ClientFlags(flags));
                if (sslContext != null) {
                    send(ctx, new OptionRequest.StartTls(), State.STARTTLS);
                } else {
                    send(ctx, new OptionRequest.StructuredReply(), State.STRUCTURED);
                }
            }
            case STARTTLS -> {
                OptionReply r = reply(msg, OPT_STARTTLS);
                if (r instanceof OptionReply.Error e) {
                    throw new NbdHandshakeException("server " + uri.endpoint() + " does not offer TLS ("
                            + errorText(e) + "); use an nbd:// URI or enable TLS on the server");
                }
                expectAck(r);
                startTls(ctx);
            }
            case STRUCTURED -> {
                OptionReply r = reply(msg, OPT_STRUCTURED_REPLY);
                checkTlsRequired(r);
                structured = r instanceof OptionReply.Ack;
                if (!structured && !(r instanceof OptionReply.Error)) {
                    expectAck(r);
                }
                afterStructured(ctx);
            }
            case LIST -> {
                OptionReply r = reply(msg, OPT_LIST_META_CONTEXT);
                switch (r) {
                    case OptionReply.MetaContext m -> available.add(m.name());
                    case OptionReply.Ack a -> sendSet(ctx);
                    case OptionReply.Error e -> sendSet(ctx);
                    default -> throw unexpected(r);
                }
            }
            case SET -> {
                OptionReply r = reply(msg, OPT_SET_META_CONTEXT);
                switch (r) {
                    case OptionReply.MetaContext m -> contexts.put(m.name(), m.contextId());
                    case OptionReply.Ack a -> sendGo(ctx);
                    case OptionReply.Error e -> {
                        contexts.clear();
                        sendGo(ctx);
                    }
                    default -> throw unexpected(r);
                }
            }
            case GO -> {
                OptionReply r = reply(msg, OPT_GO);
                switch (r) {
                    case OptionReply.Info i -> {
                        switch (i.item()) {
                            case InfoItem.Export e -> export = e;
                            case InfoItem.BlockSize b -> blockSize = b;
                            case InfoItem.Description d -> description = d.description();
                            default -> { }
                        }
                    }
                    case OptionReply.Ack a -> {
                        if (export == null) {
                            throw new NbdProtocolViolationException("server acknowledged GO without NBD_INFO_EXPORT");
                        }
                        finish(export.size(), export.transmissionFlags(), true);
                    }
                    case OptionReply.Error e when e.type() == REP_ERR_UNSUP -> {
                        // A server older than GO: the one-way EXPORT_NAME still works.
                        contexts.clear();
                        send(ctx, new OptionRequest.ExportName(uri.exportName()), State.EXPORT_NAME);
                    }
                    case OptionReply.Error e -> {
                        checkTlsRequired(e);
                        if (e.type() == REP_ERR_UNKNOWN) {
                            throw new NbdHandshakeException("export '" + uri.exportName() + "' not found on "
                                    + uri.endpoint() + " (" + errorText(e) + ")");
                        }
                        throw new NbdHandshakeException("server refused export '" + uri.exportName() + "': " + errorText(e));
                    }
                    default -> throw unexpected(r);
                }
            }
            case EXPORT_NAME -> {
                ExportNameReply r = expect(msg, ExportNameReply.class);
                finish(r.size(), r.transmissionFlags(), false);
            }
            default -> throw new NbdProtocolViolationException("unexpected message during handshake: " + msg);
        }
    }

    private void afterStructured(ChannelHandlerContext ctx) {
        if (!structured) {
            sendGo(ctx);
        } else if (options.listContexts()) {
            send(ctx, new OptionRequest.MetaContext(false, uri.exportName(), List.of()), State.LIST);
        } else {
            sendSet(ctx);
        }
    }

    private void sendSet(ChannelHandlerContext ctx) {
        List<String> queries = new ArrayList<>();
        queries.add(BASE_ALLOCATION);
        options.metaContexts().stream().filter(c -> !c.equals(BASE_ALLOCATION)).forEach(queries::add);
        send(ctx, new OptionRequest.MetaContext(true, uri.exportName(), queries), State.SET);
    }

    private void sendGo(ChannelHandlerContext ctx) {
        send(ctx, new OptionRequest.Info(true, uri.exportName(), List.of(INFO_BLOCK_SIZE, INFO_DESCRIPTION)), State.GO);
    }

    private void send(ChannelHandlerContext ctx, OptionRequest option, State next) {
        state = next;
        ctx.writeAndFlush(option).addListener(f -> {
            if (!f.isSuccess()) {
                fail(ctx, new IOException("cannot send " + optionName(option.option()) + " to " + uri.endpoint(), f.cause()));
            }
        });
    }

    private void startTls(ChannelHandlerContext ctx) {
        state = State.TLS_HANDSHAKE;
        SslHandler ssl = uri.endpoint() instanceof NbdUri.Endpoint.Tcp t
                ? sslContext.newHandler(ctx.alloc(), t.host(), t.port())
                : sslContext.newHandler(ctx.alloc());
        ctx.pipeline().addFirst("tls", ssl);
        ssl.handshakeFuture().addListener(f -> {
            if (f.isSuccess()) {
                send(ctx, new OptionRequest.StructuredReply(), State.STRUCTURED);
            } else {
                fail(ctx, new NbdHandshakeException("TLS handshake with " + uri.endpoint() + " failed: "
                        + rootMessage(f.cause()) + trustHint(f.cause()), f.cause()));
            }
        });
    }

    private void finish(long size, int flags, boolean usedGo) throws IOException {
        BlockConstraints bc = blockConstraints();
        state = State.DONE;
        if (!contexts.isEmpty() && !structured) {
            throw new NbdProtocolViolationException("server negotiated meta contexts without structured replies");
        }
        result.complete(new ExportInfo(uri.exportName(), description, size, flags, bc, blockSize != null,
                structured, contexts, available, usedGo, sslContext != null));
    }

    private BlockConstraints blockConstraints() throws NbdProtocolViolationException {
        if (blockSize == null) {
            return new BlockConstraints(1, 4096, DEFAULT_MAX_PAYLOAD);
        }
        int min = blockSize.minimum();
        int pref = blockSize.preferred();
        // 0xffffffff means "no limit beyond the export": cap at what any request of ours needs.
        long max = Math.min(Integer.toUnsignedLong(blockSize.maximumPayload()), 1L << 30);
        if (Integer.bitCount(min) != 1 || min > 65536 || Integer.bitCount(pref) != 1 || pref < min || max < pref
                || max % min != 0) {
            throw new NbdProtocolViolationException("server sent invalid block sizes: minimum " + min
                    + ", preferred " + pref + ", maximum " + Integer.toUnsignedString(blockSize.maximumPayload()));
        }
        return new BlockConstraints(min, pref, (int) max);
    }

    private void checkTlsRequired(OptionReply r) throws NbdHandshakeException {
        if (r instanceof OptionReply.Error e && e.type() == REP_ERR_TLS_REQD) {
            throw new NbdHandshakeException("server " + uri.endpoint()
                    + " requires TLS; use an nbds:// URI (with the CA or a pinned fingerprint)");
        }
    }

    private OptionReply reply(Object msg, int option) throws IOException {
        OptionReply r = expect(msg, OptionReply.class);
        if (r.option() != option) {
            throw new NbdProtocolViolationException("server answered option " + optionName(r.option())
                    + " while " + optionName(option) + " was pending");
        }
        return r;
    }

    private static void expectAck(OptionReply r) throws IOException {
        if (!(r instanceof OptionReply.Ack)) {
            throw unexpected(r);
        }
    }

    private static NbdProtocolViolationException unexpected(OptionReply r) {
        return new NbdProtocolViolationException("unexpected reply " + r + " to " + optionName(r.option()));
    }

    private static <T> T expect(Object msg, Class<T> type) throws IOException {
        if (!type.isInstance(msg)) {
            throw new NbdProtocolViolationException("expected " + type.getSimpleName() + " but got " + msg);
        }
        return type.cast(msg);
    }

    private static String errorText(OptionReply.Error e) {
        String name = switch (e.type()) {
            case REP_ERR_UNSUP -> "unsupported";
            case REP_ERR_POLICY -> "forbidden by policy";
            case REP_ERR_INVALID -> "invalid";
            case REP_ERR_PLATFORM -> "not supported on this platform";
            case REP_ERR_TLS_REQD -> "TLS required";
            case REP_ERR_UNKNOWN -> "unknown export";
            case REP_ERR_SHUTDOWN -> "server shutting down";
            case REP_ERR_BLOCK_SIZE_REQD -> "block size required";
            case REP_ERR_TOO_BIG -> "too big";
            default -> "error 0x" + Integer.toHexString(e.type());
        };
        return e.message().isBlank() ? name : name + ": " + e.message();
    }

    /** Points at the options when the server's certificate was not trusted. */
    private static String trustHint(Throwable t) {
        for (Throwable c = t; c != null && c.getCause() != c; c = c.getCause()) {
            if (c instanceof java.security.cert.CertPathValidatorException
                    || c instanceof java.security.cert.CertPathBuilderException) {
                return " (trust its CA with tls-ca-file / --tls-ca, or pin it with tls-fingerprint / --tls-fingerprint)";
            }
        }
        return "";
    }

    static String rootMessage(Throwable t) {
        Throwable r = t;
        while (r.getCause() != null && r.getCause() != r) {
            r = r.getCause();
        }
        return r.getMessage() == null ? r.getClass().getSimpleName() : r.getMessage();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof NbdProtocolException p && p.getMessage() != null && p.getMessage().startsWith("not a newstyle")) {
            fail(ctx, new NbdHandshakeException("server " + uri.endpoint()
                    + " speaks only the oldstyle NBD handshake; blockmover needs a fixed-newstyle server", cause));
        } else if (cause instanceof NbdProtocolException p) {
            fail(ctx, new NbdProtocolViolationException("server " + uri.endpoint() + " broke the handshake: " + p.getMessage(), p));
        } else if (state == State.TLS_HANDSHAKE || cause instanceof javax.net.ssl.SSLException
                || cause.getCause() instanceof javax.net.ssl.SSLException) {
            fail(ctx, new NbdHandshakeException("TLS with " + uri.endpoint() + " failed: " + rootMessage(cause)
                    + trustHint(cause), cause));
        } else {
            fail(ctx, new IOException("handshake with " + uri.endpoint() + " failed: " + rootMessage(cause), cause));
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (state == State.GO || state == State.STRUCTURED) {
            fail(ctx, new IOException("server " + uri.endpoint() + " closed the connection during the handshake"
                    + (sslContext == null ? " (does it require TLS? then use nbds://)" : "")));
        } else {
            fail(ctx, new IOException("server " + uri.endpoint() + " closed the connection during the handshake"));
        }
        ctx.fireChannelInactive();
    }

    void fail(ChannelHandlerContext ctx, Throwable t) {
        if (result.completeExceptionally(t)) {
            state = State.DONE;
            ctx.close();
        }
    }
}
