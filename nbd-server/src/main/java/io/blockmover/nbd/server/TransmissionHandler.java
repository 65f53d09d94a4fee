package io.blockmover.nbd.server;

import io.blockmover.nbd.protocol.NbdProtocolException;
import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;
import io.blockmover.nbd.protocol.ReplyEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * The transmission phase of one connection. Requests are checked on the event loop, run on
 * the {@link RequestDispatcher} (so they overlap and complete in any order), and answered from
 * there. Bookkeeping stays on the event loop: beyond a budget of requests and bytes in flight,
 * requests wait unserved and the socket is no longer read until half the budget is free again,
 * so a fast client cannot make the server buffer or allocate without bound. DISC closes once
 * every earlier request is answered.
 */
final class TransmissionHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(TransmissionHandler.class);

    static final String CODEC = "nbd-codec";
    static final String HANDLER = "nbd-transmission";

    private final Session session;
    private final NbdServerConfig config;
    private final RequestDispatcher dispatcher;
    private final RequestServer server;

    // Confined to the event loop.
    private int requestsInFlight;
    private long bytesInFlight;
    private boolean paused;
    private boolean disconnecting;
    private final ArrayDeque<NbdRequest> waiting = new ArrayDeque<>();
    /** Started requests of an inline device waiting for the socket to drain; see {@link #dispatch}. */
    private final ArrayDeque<Started> unserved = new ArrayDeque<>();

    private record Started(NbdRequest request, ReplySink sink) {}

    TransmissionHandler(Session session, NbdServerConfig config, RequestDispatcher dispatcher) {
        this.session = session;
        this.config = config;
        this.dispatcher = dispatcher;
        this.server = new RequestServer(session);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof NbdRequest request)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (disconnecting || !ctx.channel().isActive()) {
            request.release();
            return;
        }
        if (request.type() == CMD_DISC) {
            request.release();
            disconnecting = true;
            ctx.channel().config().setAutoRead(false);
            closeWhenIdle(ctx);
            return;
        }
        if (waiting.isEmpty() && underLimits()) {
            start(ctx, request);
        } else {
            // One socket read can hold many requests; those beyond the budget wait here, unserved
            // and without buffers, while the socket is not read any further.
            waiting.add(request);
        }
        if (!paused && !underLimits()) {
            paused = true;
            ctx.channel().config().setAutoRead(false);
        }
    }

    private boolean underLimits() {
        return requestsInFlight < config.maxRequestsInFlight() && bytesInFlight < config.maxBytesInFlight();
    }

    private void start(ChannelHandlerContext ctx, NbdRequest request) {
        long cost = request.type() == CMD_READ || request.type() == CMD_WRITE ? request.length() : 0;
        requestsInFlight++;
        bytesInFlight += cost;
        ReplySink sink = new ReplySink(ctx, () -> finish(ctx, cost));
        RequestChecks.Rejection rejection = RequestChecks.check(session, request);
        if (rejection != null) {
            request.release();
            server.replyError(sink, request, rejection.errno(), rejection.message());
            return;
        }
        FaultInjector.Fault fault = config.faults().onRequest(session.connectionId(), session.export().name(),
                request.type(), request.offset(), request.length());
        switch (fault) {
            case FaultInjector.Fault.None n -> dispatch(ctx, request, sink);
            case FaultInjector.Fault.Delay d ->
                    ctx.executor().schedule(() -> dispatch(ctx, request, sink), d.nanos(), TimeUnit.NANOSECONDS);
            case FaultInjector.Fault.Error e -> {
                request.release();
                server.replyError(sink, request, e.errno(), e.message());
            }
            case FaultInjector.Fault.Drop d -> {
                request.release();
                LOG.debug("connection {}: fault injector drops the connection at {}", session.connectionId(), request);
                disconnecting = true;
                ctx.close();
                sink.abandon();
            }
        }
    }

    private void dispatch(ChannelHandlerContext ctx, NbdRequest request, ReplySink sink) {
        if (!ctx.channel().isActive()) {
            request.release();
            sink.abandon();
            return;
        }
        if (session.device().servesInline()) {
            // Served only while the socket takes data: a reply is produced just before the
            // kernel copies it, into pooled memory freed moments ago and still in cache, rather
            // than dozens of replies being generated ahead into cold buffers.
            if (unserved.isEmpty() && ctx.channel().isWritable()) {
                server.serve(request, sink);
            } else {
                unserved.add(new Started(request, sink));
            }
            return;
        }
        if (!dispatcher.submit(() -> server.serve(request, sink))) {
            request.release();
            sink.abandon();
            ctx.close();
        }
    }

    /** Runs on the event loop once a request's last reply was written (or failed to be). */
    private void finish(ChannelHandlerContext ctx, long cost) {
        requestsInFlight--;
        bytesInFlight -= cost;
        while (!waiting.isEmpty() && underLimits()) {
            NbdRequest next = waiting.poll();
            if (ctx.channel().isActive()) {
                start(ctx, next);
            } else {
                next.release();
            }
        }
        if (disconnecting) {
            closeWhenIdle(ctx);
        } else if (paused && waiting.isEmpty() && requestsInFlight <= config.maxRequestsInFlight() / 2
                && bytesInFlight <= config.maxBytesInFlight() / 2) {
            paused = false;
            ctx.channel().config().setAutoRead(true);
        }
    }

    private void closeWhenIdle(ChannelHandlerContext ctx) {
        if (requestsInFlight == 0 && waiting.isEmpty()) {
            ctx.close();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        Started next;
        while (ctx.channel().isWritable() && (next = unserved.poll()) != null) {
            if (ctx.channel().isActive()) {
                server.serve(next.request(), next.sink());
            } else {
                next.request().release();
                next.sink().abandon();
            }
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        NbdRequest r;
        while ((r = waiting.poll()) != null) {
            r.release();
        }
        Started s;
        while ((s = unserved.poll()) != null) {
            s.request().release();
            s.sink().abandon();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof NbdProtocolException) {
            LOG.debug("connection {}: protocol error, closing: {}", session.connectionId(), cause.getMessage());
        } else if (cause instanceof IOException) {
            LOG.debug("connection {}: {}", session.connectionId(), cause.toString());
        } else {
            LOG.warn("connection {}: closing after unexpected error", session.connectionId(), cause);
        }
        ctx.close();
    }

    /**
     * Where a request's replies go: written in order from the worker, the last one flushed and,
     * once written, reported back to the event loop exactly once.
     */
    static final class ReplySink {
        private final ChannelHandlerContext ctx;
        private final Runnable onDone;

        ReplySink(ChannelHandlerContext ctx, Runnable onDone) {
            this.ctx = ctx;
            this.onDone = onDone;
        }

        void more(NbdReply reply) {
            more(ReplyEncoder.encodeSmall(ctx.alloc(), reply));
        }

        void last(NbdReply reply) {
            last(ReplyEncoder.encodeSmall(ctx.alloc(), reply));
        }

        void send(NbdReply reply, boolean last) {
            send(ReplyEncoder.encodeSmall(ctx.alloc(), reply), last);
        }

        /** A reply's wire bytes (the pipeline then sees only buffers: one shape, one compiled path). */
        void more(ByteBuf wire) {
            ctx.write(wire);
        }

        void last(ByteBuf wire) {
            ctx.writeAndFlush(wire).addListener(f -> onDone.run());
        }

        void send(ByteBuf wire, boolean last) {
            if (last) {
                last(wire);
            } else {
                more(wire);
            }
        }

        ByteBufAllocator alloc() {
            return ctx.alloc();
        }

        /** The request ends without a reply (connection going away). */
        void abandon() {
            if (ctx.executor().inEventLoop()) {
                onDone.run();
            } else {
                ctx.executor().execute(onDone);
            }
        }
    }
}
