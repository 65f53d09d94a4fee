package io.blockmover.mover.transport.nbd;

import static io.blockmover.nbd.protocol.NbdConstants.CMD_DISC;

import io.blockmover.nbd.protocol.NbdProtocolException;
import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;
import io.blockmover.nbd.protocol.ReplyLengths;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.LongObjectHashMap;
import io.netty.util.collection.LongObjectMap;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One of the client's connections, confined to one event loop. It keeps the requests in
 * flight by cookie; when the connection drops (or a reply is overdue) it reconnects with the
 * retry policy's backoff and sends again exactly the requests that had no final reply. A
 * protocol violation or a handshake refusal is fatal: every request fails with it.
 */
final class ConnectionSlot {
    private static final Logger log = LoggerFactory.getLogger(ConnectionSlot.class);

    private final int index;
    private final EventLoop loop;
    private final Connector connector;
    private final ConnectOptions options;
    private final long requestTimeoutNanos;

    private final LongObjectMap<Pending> inFlight = new LongObjectHashMap<>();
    private final ArrayDeque<Pending> waiting = new ArrayDeque<>();
    private Channel channel;
    private ExportInfo info;
    private long nextCookie = 1;
    private int failedAttempts;
    private boolean flushScheduled;
    private Throwable closeCause;
    private Throwable fatal;
    /** Why an idle connection went away; set only while no reconnect is scheduled. */
    private Throwable idleCause;
    private boolean closed;
    private ScheduledFuture<?> sweeper;

    ConnectionSlot(int index, EventLoop loop, Connector connector, ConnectOptions options) {
        this.index = index;
        this.loop = loop;
        this.connector = connector;
        this.options = options;
        this.requestTimeoutNanos = options.timeouts().request().toNanos();
    }

    /** Connects for the first time (no retries: a wrong address should fail at once). */
    CompletableFuture<ExportInfo> open() {
        CompletableFuture<ExportInfo> out = new CompletableFuture<>();
        connector.connect(loop, this::transmission).whenComplete((c, e) -> {
            if (e != null) {
                out.completeExceptionally(e);
                return;
            }
            attach(c);
            long period = Math.max(50, Math.min(1000, options.timeouts().request().toMillis() / 4));
            sweeper = loop.scheduleAtFixedRate(this::sweep, period, period, TimeUnit.MILLISECONDS);
            out.complete(c.info());
        });
        return out;
    }

    /** Queues a request from any thread. */
    void submit(Pending p) {
        if (loop.inEventLoop()) {
            dispatch(p);
        } else {
            try {
                loop.execute(() -> dispatch(p));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                p.fail(new IOException("NBD client is closed"));
            }
        }
    }

    private void dispatch(Pending p) {
        if (fatal != null) {
            p.fail(fatal);
        } else if (closed) {
            p.fail(new IOException("NBD client is closed"));
        } else if (channel == null) {
            waiting.add(p);
            if (idleCause != null) {
                Throwable cause = idleCause;
                idleCause = null;
                reconnectLater(cause);
            }
        } else {
            send(p);
        }
    }

    private void send(Pending p) {
        long cookie = nextCookie++;
        p.deadline = System.nanoTime() + requestTimeoutNanos;
        inFlight.put(cookie, p);
        channel.write(p.request(cookie), channel.voidPromise());
        if (!flushScheduled) {
            // One flush for every request queued in this loop iteration.
            flushScheduled = true;
            loop.execute(this::flush);
        }
    }

    private void flush() {
        flushScheduled = false;
        if (channel != null) {
            channel.flush();
        }
    }

    private Connector.Transmission transmission(Channel ch) {
        return new Connector.Transmission() {
            @Override
            public ReplyLengths replyLengths() {
                return cookie -> {
                    Pending p = inFlight.get(cookie);
                    return p == null ? ReplyLengths.UNKNOWN : p.simpleReplyLength();
                };
            }

            @Override
            public ChannelHandler handler() {
                return new Handler(ch);
            }
        };
    }

    private void attach(Connector.Connected c) {
        channel = c.channel();
        info = c.info();
        while (!waiting.isEmpty() && channel != null) {
            send(waiting.poll());
        }
    }

    /** Inbound side of one channel; events of a channel that is no longer current are ignored. */
    private final class Handler extends ChannelInboundHandlerAdapter {
        private final Channel ch;

        Handler(Channel ch) {
            this.ch = ch;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (ch == channel && msg instanceof NbdReply r) {
                    onReply(r);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (ch == channel) {
                closeWith(cause instanceof NbdProtocolException
                        ? new NbdProtocolViolationException("malformed reply from " + connector.uri().endpoint() + ": " + cause.getMessage(), cause)
                        : cause);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (ch == channel) {
                onDown();
            }
        }
    }

    private void onReply(NbdReply r) {
        Pending p = inFlight.get(r.cookie());
        if (p == null) {
            closeWith(new NbdProtocolViolationException("server " + connector.uri().endpoint()
                    + " replied to unknown cookie " + r.cookie()));
            return;
        }
        try {
            p.accept(r);
            if (r.done()) {
                inFlight.remove(r.cookie());
                try {
                    p.complete();
                    failedAttempts = 0;
                } catch (NbdProtocolViolationException | RuntimeException e) {
                    p.fail(e);
                    throw e;
                }
            }
        } catch (NbdProtocolViolationException e) {
            closeWith(e);
        } catch (RuntimeException e) {
            // A bug of ours must not leave requests waiting forever: fail everything.
            closeWith(new NbdProtocolViolationException("internal error handling a reply from "
                    + connector.uri().endpoint() + ": " + e, e));
        }
    }

    private void closeWith(Throwable cause) {
        if (closeCause == null) {
            closeCause = cause;
        }
        if (cause instanceof NbdProtocolViolationException && fatal == null) {
            fatal = cause;
        }
        if (channel != null) {
            channel.close();
        }
    }

    /** The current channel is gone: re-queue what it owed us and reconnect (or give up). */
    private void onDown() {
        Throwable cause = closeCause != null ? closeCause
                : new IOException("server " + connector.uri().endpoint() + " closed the connection");
        closeCause = null;
        channel = null;
        List<Long> cookies = new ArrayList<>(inFlight.keySet());
        cookies.sort(Comparator.naturalOrder());
        // Oldest first, ahead of requests that were never sent.
        for (int i = cookies.size() - 1; i >= 0; i--) {
            Pending p = inFlight.remove(cookies.get(i));
            p.reset();
            waiting.addFirst(p);
        }
        if (closed) {
            failAll(new IOException("NBD client is closed"));
        } else if (fatal != null) {
            failAll(fatal);
        } else if (waiting.isEmpty()) {
            // Nothing was lost: reconnect only when the next request comes.
            idleCause = cause;
        } else {
            reconnectLater(cause);
        }
    }

    private void reconnectLater(Throwable cause) {
        if (failedAttempts >= options.retry().maxRetries()) {
            failAll(new IOException("lost the connection to " + connector.uri() + " ("
                    + Handshake.rootMessage(cause) + ")" + (options.retry().maxRetries() == 0 ? ""
                    : "; gave up after " + failedAttempts + " retries"), cause));
            fatal = fatal == null ? new IOException("connection to " + connector.uri() + " is lost", cause) : fatal;
            return;
        }
        failedAttempts++;
        options.retry().onRetry().run();
        long delay = options.retry().delayBefore(failedAttempts).toMillis();
        log.warn("connection {} to {} lost ({}); reconnecting in {} ms (attempt {}/{}, {} requests to re-send)",
                index, connector.uri(), Handshake.rootMessage(cause), delay, failedAttempts,
                options.retry().maxRetries(), waiting.size());
        loop.schedule(this::reconnect, delay, TimeUnit.MILLISECONDS);
    }

    private void reconnect() {
        if (closed || fatal != null) {
            failAll(fatal != null ? fatal : new IOException("NBD client is closed"));
            return;
        }
        connector.connect(loop, this::transmission).whenComplete((c, e) -> {
            if (e != null) {
                if (e instanceof NbdHandshakeException || e instanceof NbdProtocolViolationException) {
                    fatal = e;
                    failAll(e);
                } else {
                    reconnectLater(e);
                }
                return;
            }
            if (closed) {
                c.channel().close();
                return;
            }
            if (c.info().size() != info.size()) {
                fatal = new NbdHandshakeException("export " + connector.uri() + " changed size from "
                        + info.size() + " to " + c.info().size() + " across a reconnect");
                c.channel().close();
                failAll(fatal);
                return;
            }
            log.info("connection {} to {} re-established; re-sending {} requests", index, connector.uri(), waiting.size());
            attach(c);
        });
    }

    private void sweep() {
        if (channel == null || inFlight.isEmpty()) {
            return;
        }
        long now = System.nanoTime();
        for (Pending p : inFlight.values()) {
            if (now - p.deadline > 0) {
                closeWith(new IOException("no reply to " + p.describe() + " within "
                        + options.timeouts().request().toSeconds() + " s"));
                return;
            }
        }
    }

    private void failAll(Throwable cause) {
        for (Pending p : inFlight.values()) {
            p.fail(cause);
        }
        inFlight.clear();
        while (!waiting.isEmpty()) {
            waiting.poll().fail(cause);
        }
    }

    /** Closes the connection; requests still pending fail. */
    CompletableFuture<Void> close() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        loop.execute(() -> {
            closed = true;
            if (sweeper != null) {
                sweeper.cancel(false);
            }
            if (channel != null) {
                Channel ch = channel;
                // Tell the server we are leaving (NBD_CMD_DISC has no reply), then close.
                ch.writeAndFlush(NbdRequest.command(CMD_DISC, nextCookie++, 0, 0, 0))
                        .addListener(w -> ch.close().addListener(f -> done.complete(null)));
            } else {
                failAll(new IOException("NBD client is closed"));
                done.complete(null);
            }
        });
        return done;
    }
}
