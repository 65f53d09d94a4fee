package io.blockmover.mover.transport.nbd;

import static io.blockmover.nbd.protocol.NbdConstants.*;

import io.blockmover.nbd.protocol.BlockStatusDescriptor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An NBD client for one export: one or more connections (several only when the server says
 * CAN_MULTI_CONN), any number of requests in flight spread over them, read data handed over
 * as retained slices of the receive buffers. Lost connections are re-established and their
 * unanswered requests re-sent (see {@link ConnectionSlot}).
 */
public final class NbdClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NbdClient.class);

    private final NbdUri uri;
    private final List<ConnectionSlot> slots;
    private final ExportInfo info;
    private final ByteBufAllocator alloc = ByteBufAllocator.DEFAULT;
    private final AtomicInteger next = new AtomicInteger();

    private NbdClient(NbdUri uri, List<ConnectionSlot> slots, ExportInfo info) {
        this.uri = uri;
        this.slots = slots;
        this.info = info;
    }

    /**
     * For a process about to exit: stops the event loops that all clients share (clients still open
     * lose their connections; clients made later get new loops). An idle loop waits in epoll_wait,
     * in native code, and the JVM's exit waits up to 300 ms for threads in native code (HotSpot's
     * VM_Exit::wait_for_threads_in_native_to_block): every command that had read over NBD paid a
     * third of a second after its work was done.
     */
    public static void stopSharedEventLoops() throws InterruptedException {
        ClientEventLoops.stop(1000);
    }

    /** Connects (blocking until every connection finished its handshake). */
    public static NbdClient connect(NbdUri uri, ConnectOptions options) throws IOException {
        Connector connector = new Connector(uri, options);
        EventLoopGroup group = ClientEventLoops.shared();
        List<ConnectionSlot> slots = new ArrayList<>();
        try {
            ConnectionSlot first = new ConnectionSlot(0, group.next(), connector, options);
            slots.add(first);
            ExportInfo info = await(first.open());
            int wanted = options.connections();
            if (wanted > 1 && !info.canMultiConn()) {
                log.info("{} does not advertise CAN_MULTI_CONN; using one connection", uri);
                wanted = 1;
            }
            List<CompletableFuture<ExportInfo>> more = new ArrayList<>();
            for (int i = 1; i < wanted; i++) {
                ConnectionSlot s = new ConnectionSlot(i, group.next(), connector, options);
                slots.add(s);
                more.add(s.open());
            }
            for (CompletableFuture<ExportInfo> f : more) {
                ExportInfo other = await(f);
                if (other.size() != info.size()) {
                    throw new NbdHandshakeException("connections to " + uri + " disagree on the export size");
                }
            }
            return new NbdClient(uri, List.copyOf(slots), info);
        } catch (IOException | RuntimeException e) {
            slots.forEach(ConnectionSlot::close);
            throw e;
        }
    }

    private static <T> T await(CompletableFuture<T> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while connecting");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException(e.getCause());
        }
    }

    public ExportInfo info() {
        return info;
    }

    public NbdUri uri() {
        return uri;
    }

    public int connections() {
        return slots.size();
    }

    private ConnectionSlot slot() {
        return slots.get(Math.floorMod(next.getAndIncrement(), slots.size()));
    }

    /** Reads {@code length} bytes; the caller releases the buffer. */
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        checkRange(offset, length);
        PendingRead p = new PendingRead(offset, length, alloc);
        slot().submit(p);
        return p.future;
    }

    /**
     * Block status of one negotiated context from {@code offset}; the server may describe less
     * (never nothing) or, in its last descriptor, more than asked.
     */
    public CompletableFuture<List<BlockStatusDescriptor>> blockStatus(String context, long offset, int length) {
        Integer id = info.metaContexts().get(context);
        if (id == null) {
            return CompletableFuture.failedFuture(new UnsupportedOperationException("meta context '" + context
                    + "' was not negotiated with " + uri + " (negotiated: " + info.metaContexts().keySet() + ")"));
        }
        checkRange(offset, length, false);
        PendingStatus p = new PendingStatus(offset, length, id, context);
        slot().submit(p);
        return p.future;
    }

    /** Writes the readable bytes of {@code data} (ownership passes to the client). */
    public CompletableFuture<Void> write(long offset, ByteBuf data, int flags) {
        try {
            checkWritable();
            checkRange(offset, data.readableBytes());
        } catch (RuntimeException e) {
            data.release();
            throw e;
        }
        PendingCommand p = new PendingCommand(CMD_WRITE, flags, offset, data.readableBytes(), data);
        slot().submit(p);
        return p.future;
    }

    public CompletableFuture<Void> writeZeroes(long offset, int length, int flags) {
        return command(CMD_WRITE_ZEROES, FLAG_SEND_WRITE_ZEROES, offset, length, flags);
    }

    public CompletableFuture<Void> trim(long offset, int length, int flags) {
        return command(CMD_TRIM, FLAG_SEND_TRIM, offset, length, flags);
    }

    /**
     * Flushes. With several connections every one is flushed: CAN_MULTI_CONN promises that a
     * flush covers writes completed on any connection, but flushing all costs little.
     */
    public CompletableFuture<Void> flush() {
        checkWritable();
        if (!info.has(FLAG_SEND_FLUSH)) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<?>[] all = new CompletableFuture<?>[slots.size()];
        for (int i = 0; i < all.length; i++) {
            PendingCommand p = new PendingCommand(CMD_FLUSH, 0, 0, 0, null);
            slots.get(i).submit(p);
            all[i] = p.future;
        }
        return CompletableFuture.allOf(all);
    }

    private CompletableFuture<Void> command(int type, int needFlag, long offset, int length, int flags) {
        checkWritable();
        if (!info.has(needFlag)) {
            throw new UnsupportedOperationException(uri + " does not support " + commandName(type));
        }
        checkRange(offset, length);
        PendingCommand p = new PendingCommand(type, flags, offset, length, null);
        slot().submit(p);
        return p.future;
    }

    private void checkWritable() {
        if (info.readOnly()) {
            throw new UnsupportedOperationException(uri + " is read-only");
        }
    }

    private void checkRange(long offset, long length) {
        checkRange(offset, length, true);
    }

    /** Payload-carrying requests are bounded by the server's maximum; BLOCK_STATUS is not. */
    private void checkRange(long offset, long length, boolean payload) {
        if (offset < 0 || length <= 0 || offset + length > info.size() || offset + length < 0) {
            throw new IllegalArgumentException("range [" + offset + ", +" + length + ") is outside the export of "
                    + info.size() + " bytes");
        }
        if (payload && length > info.blockConstraints().maximum()) {
            throw new IllegalArgumentException("request of " + length + " bytes exceeds the server's maximum "
                    + info.blockConstraints().maximum());
        }
        if (!info.blockConstraints().aligned(offset, length) && offset + length != info.size()) {
            throw new IllegalArgumentException("request [" + offset + ", +" + length + ") is not aligned to the server's "
                    + info.blockConstraints().minimum() + "-byte minimum block");
        }
    }

    @Override
    public void close() {
        CompletableFuture.allOf(slots.stream().map(ConnectionSlot::close).toArray(CompletableFuture[]::new))
                .orTimeout(5, TimeUnit.SECONDS).exceptionally(t -> null).join();
    }
}
