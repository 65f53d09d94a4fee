package io.blockmover.mover.transport.nbd;

import io.blockmover.mover.transport.BlockConstraints;
import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.mover.transport.DiskSource;
import io.blockmover.nbd.protocol.BlockStatusDescriptor;
import io.blockmover.nbd.units.ByteRange;

import static io.blockmover.nbd.protocol.NbdConstants.*;

import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link DiskSource} over NBD. Extents come from {@code base:allocation}; changed areas from
 * a meta context named by the change token: a full context name ({@code qemu:dirty-bitmap:bm0},
 * {@code blockmover:changed:ID}) as is, anything else as {@code blockmover:changed:<token>}, the
 * emulated host's CBT. The context must have been negotiated ({@link ConnectOptions#metaContexts()}).
 */
public final class NbdDiskSource implements DiskSource {
    /** The emulated host's changed-block context prefix; bit 0 of its flags means "changed". */
    public static final String CHANGED_PREFIX = "blockmover:changed:";
    /** Bit 0 of a dirty-bitmap or changed-block context: the extent was written. */
    private static final int CHANGED = 1;

    private final NbdClient client;
    private final long statusStep;

    public NbdDiskSource(NbdClient client) {
        this.client = client;
        int min = client.info().blockConstraints().minimum();
        // BLOCK_STATUS lengths are u32: ask for at most 1 GiB at a time, aligned.
        this.statusStep = (1L << 30) - ((1L << 30) % min);
    }

    public static NbdDiskSource open(NbdUri uri, ConnectOptions options) throws IOException {
        return new NbdDiskSource(NbdClient.connect(uri, options));
    }

    /** The meta context a change token stands for. */
    public static String contextFor(String changeToken) {
        return changeToken.startsWith("qemu:") || changeToken.startsWith(CHANGED_PREFIX)
                ? changeToken : CHANGED_PREFIX + changeToken;
    }

    public NbdClient client() {
        return client;
    }

    @Override
    public long capacity() {
        return client.info().size();
    }

    @Override
    public BlockConstraints blockConstraints() {
        return client.info().blockConstraints();
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return client.read(offset, length);
    }

    @Override
    public CompletableFuture<List<DiskExtent>> extents(long offset, long length) {
        checkRange(offset, length);
        if (length == 0) {
            return CompletableFuture.completedFuture(List.of());
        }
        if (!client.info().metaContexts().containsKey(BASE_ALLOCATION)) {
            return CompletableFuture.completedFuture(List.of(new DiskExtent(offset, length, DiskExtent.Kind.DATA)));
        }
        List<DiskExtent> out = new ArrayList<>();
        return walk(BASE_ALLOCATION, offset, offset + length, (at, len, flags) -> {
            DiskExtent.Kind kind = (flags & STATE_ZERO) == 0 ? DiskExtent.Kind.DATA
                    : (flags & STATE_HOLE) != 0 ? DiskExtent.Kind.HOLE : DiskExtent.Kind.ZERO;
            if (!out.isEmpty() && out.getLast().kind() == kind && out.getLast().end() == at) {
                DiskExtent last = out.removeLast();
                out.add(new DiskExtent(last.offset(), last.length() + len, kind));
            } else {
                out.add(new DiskExtent(at, len, kind));
            }
        }).thenApply(v -> List.copyOf(out));
    }

    @Override
    public CompletableFuture<List<ByteRange>> changedSince(String changeToken) {
        String context = contextFor(changeToken);
        if (!client.info().metaContexts().containsKey(context)) {
            return CompletableFuture.failedFuture(new UnsupportedOperationException("meta context '" + context
                    + "' was not negotiated with " + client.uri() + " (the server offers it? negotiated: "
                    + client.info().metaContexts().keySet() + ")"));
        }
        List<ByteRange> out = new ArrayList<>();
        return walk(context, 0, capacity(), (at, len, flags) -> {
            if ((flags & CHANGED) == 0) {
                return;
            }
            if (!out.isEmpty() && out.getLast().end() == at) {
                ByteRange last = out.removeLast();
                out.add(new ByteRange(last.offset(), last.length() + len));
            } else {
                out.add(new ByteRange(at, len));
            }
        }).thenApply(v -> List.copyOf(out));
    }

    /** Receives one run of a context's status, clipped to the range asked for. */
    @FunctionalInterface
    public interface StatusSink {
        void accept(long offset, long length, int flags);
    }

    /** Walks [from, to) with as many BLOCK_STATUS requests as the server needs, one at a time. */
    public CompletableFuture<Void> walk(String context, long from, long to, StatusSink sink) {
        if (from >= to) {
            return CompletableFuture.completedFuture(null);
        }
        int len = (int) Math.min(to - from, statusStep);
        return client.blockStatus(context, from, len).thenCompose(descriptors -> {
            long at = from;
            for (BlockStatusDescriptor d : descriptors) {
                if (at >= to) {
                    break;
                }
                long n = Math.min(d.length(), to - at);
                sink.accept(at, n, d.flags());
                at += n;
            }
            return walk(context, at, to, sink);
        });
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > capacity() || offset + length < 0) {
            throw new IllegalArgumentException("range [" + offset + ", +" + length + ") is outside the disk of "
                    + capacity() + " bytes");
        }
    }

    @Override
    public void close() {
        client.close();
    }
}
