package io.blockmover.mover.transport.nbd;

import static io.blockmover.nbd.protocol.NbdConstants.*;

import io.blockmover.mover.transport.BlockConstraints;
import io.blockmover.mover.transport.DiskIoException;
import io.blockmover.mover.transport.DiskTarget;
import io.blockmover.mover.transport.TargetCapabilities;
import io.blockmover.mover.transport.ZeroOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link DiskTarget} over NBD: WRITE, WRITE_ZEROES (with NO_HOLE and FAST_ZERO), TRIM and
 * FLUSH as the server offers them; zeros are written as data when WRITE_ZEROES is missing.
 */
public final class NbdDiskTarget implements DiskTarget {
    private final NbdClient client;
    private final int zeroStep;
    private final int writeStep;

    public NbdDiskTarget(NbdClient client) {
        if (client.info().readOnly()) {
            throw new IllegalArgumentException(client.uri() + " is read-only");
        }
        this.client = client;
        int min = client.info().blockConstraints().minimum();
        this.zeroStep = (1 << 30) - ((1 << 30) % min);
        this.writeStep = client.info().blockConstraints().requestSize(NbdTuning.DEFAULT_REQUEST_SIZE);
    }

    public static NbdDiskTarget open(NbdUri uri, ConnectOptions options) throws IOException {
        NbdClient c = NbdClient.connect(uri, options);
        try {
            return new NbdDiskTarget(c);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
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
    public TargetCapabilities capabilities() {
        ExportInfo i = client.info();
        return new TargetCapabilities(i.has(FLAG_SEND_FLUSH), i.has(FLAG_SEND_FUA), i.has(FLAG_SEND_TRIM),
                i.has(FLAG_SEND_WRITE_ZEROES), i.has(FLAG_SEND_FAST_ZERO));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        return client.write(offset, data, fuaFlag(fua));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, ZeroOptions options) {
        TargetCapabilities caps = capabilities();
        if (options.fastOnly() && !caps.fastZero()) {
            return CompletableFuture.failedFuture(new DiskIoException("fast zero", offset, length, ENOTSUP,
                    "the server does not offer FAST_ZERO"));
        }
        if (!caps.writeZeroes()) {
            return writeZeroBuffers(offset, length, options.fua());
        }
        int flags = fuaFlag(options.fua()) | (options.keepAllocated() ? CMD_FLAG_NO_HOLE : 0)
                | (options.fastOnly() ? CMD_FLAG_FAST_ZERO : 0);
        return pieces(offset, length, zeroStep, (at, n) -> client.writeZeroes(at, n, flags));
    }

    private CompletableFuture<Void> writeZeroBuffers(long offset, long length, boolean fua) {
        return pieces(offset, length, writeStep, (at, n) -> {
            ByteBuf zeros = ByteBufAllocator.DEFAULT.directBuffer(n, n).writeZero(n);
            return client.write(at, zeros, fuaFlag(fua));
        });
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length) {
        if (!capabilities().trim()) {
            return CompletableFuture.completedFuture(null);
        }
        return pieces(offset, length, zeroStep, (at, n) -> client.trim(at, n, 0));
    }

    @Override
    public CompletableFuture<Void> flush() {
        return client.flush();
    }

    private int fuaFlag(boolean fua) {
        return fua && client.info().has(FLAG_SEND_FUA) ? CMD_FLAG_FUA : 0;
    }

    @FunctionalInterface
    private interface Piece {
        CompletableFuture<Void> send(long offset, int length);
    }

    private static CompletableFuture<Void> pieces(long offset, long length, int step, Piece piece) {
        if (length <= step) {
            return piece.send(offset, (int) length);
        }
        int count = (int) ((length + step - 1) / step);
        CompletableFuture<?>[] all = new CompletableFuture<?>[count];
        long at = offset;
        for (int i = 0; i < count; i++) {
            int n = (int) Math.min(step, offset + length - at);
            all[i] = piece.send(at, n);
            at += n;
        }
        return CompletableFuture.allOf(all);
    }

    @Override
    public void close() {
        client.close();
    }
}
