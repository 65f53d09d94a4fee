package io.blockmover.mover.transport.nbd;

import static io.blockmover.nbd.protocol.NbdConstants.*;

import io.blockmover.mover.transport.DiskIoException;
import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;
import io.netty.buffer.ByteBuf;
import java.util.concurrent.CompletableFuture;

/**
 * A command answered by success or an error: WRITE, WRITE_ZEROES, TRIM, FLUSH. A WRITE keeps
 * its data until the final reply so it can be sent again after a reconnect.
 */
final class PendingCommand extends Pending {
    private final int type;
    private final int flags;
    private final long offset;
    private final long length;
    private ByteBuf data;
    final CompletableFuture<Void> future = new CompletableFuture<>();
    private DiskIoException error;

    /** {@code data} (WRITE only, else null) is owned by this request from now on. */
    PendingCommand(int type, int flags, long offset, long length, ByteBuf data) {
        this.type = type;
        this.flags = flags;
        this.offset = offset;
        this.length = length;
        this.data = data;
    }

    @Override
    NbdRequest request(long cookie) {
        return type == CMD_WRITE
                ? NbdRequest.write(cookie, offset, data.retainedDuplicate(), flags)
                : NbdRequest.command(type, cookie, offset, length, flags);
    }

    @Override
    long simpleReplyLength() {
        return 0;
    }

    @Override
    void accept(NbdReply reply) throws NbdProtocolViolationException {
        switch (reply) {
            case NbdReply.Simple s when s.error() != 0 -> error = error(s.error(), null);
            case NbdReply.Simple s -> { }
            case NbdReply.None n -> { }
            case NbdReply.Error e -> error = error(e.error(), e.message());
            case NbdReply.ErrorOffset e -> error = error(e.error(), e.message());
            default -> throw violation(this, "unexpected " + reply);
        }
    }

    private DiskIoException error(int errno, String message) {
        return new DiskIoException(commandName(type).toLowerCase(java.util.Locale.ROOT), offset, length, errno, message);
    }

    @Override
    void complete() {
        releaseData();
        if (error != null) {
            future.completeExceptionally(error);
        } else {
            future.complete(null);
        }
    }

    @Override
    void fail(Throwable cause) {
        releaseData();
        future.completeExceptionally(cause);
    }

    private void releaseData() {
        if (data != null) {
            data.release();
            data = null;
        }
    }

    @Override
    void reset() {
        error = null;
    }

    @Override
    String describe() {
        return commandName(type) + " of " + length + " bytes at offset " + offset;
    }
}
