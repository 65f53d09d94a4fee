package io.blockmover.mover.transport.nbd;

import static io.blockmover.nbd.protocol.NbdConstants.CMD_BLOCK_STATUS;

import io.blockmover.mover.transport.DiskIoException;
import io.blockmover.nbd.protocol.BlockStatusDescriptor;
import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A BLOCK_STATUS for one meta context. The server answers every negotiated context; only
 * the asked one is kept.
 */
final class PendingStatus extends Pending {
    private final long offset;
    private final int length;
    private final int contextId;
    private final String context;
    final CompletableFuture<List<BlockStatusDescriptor>> future = new CompletableFuture<>();
    private List<BlockStatusDescriptor> descriptors;
    private DiskIoException error;

    PendingStatus(long offset, int length, int contextId, String context) {
        this.offset = offset;
        this.length = length;
        this.contextId = contextId;
        this.context = context;
    }

    @Override
    NbdRequest request(long cookie) {
        return NbdRequest.command(CMD_BLOCK_STATUS, cookie, offset, Integer.toUnsignedLong(length), 0);
    }

    @Override
    long simpleReplyLength() {
        return 0;
    }

    @Override
    void accept(NbdReply reply) throws NbdProtocolViolationException {
        switch (reply) {
            case NbdReply.Simple s when s.error() != 0 -> error = new DiskIoException("block status", offset, length, s.error(), null);
            case NbdReply.Simple s -> throw violation(this, "a simple success reply");
            case NbdReply.BlockStatus b -> {
                if (b.contextId() == contextId) {
                    if (descriptors != null) {
                        throw violation(this, "two chunks for context " + context);
                    }
                    descriptors = b.descriptors();
                }
            }
            case NbdReply.Error e -> error = new DiskIoException("block status", offset, length, e.error(), e.message());
            case NbdReply.ErrorOffset e -> error = new DiskIoException("block status", e.offset(), length, e.error(), e.message());
            case NbdReply.None n -> { }
            case NbdReply.OffsetData d -> throw violation(this, "read data");
            case NbdReply.OffsetHole h -> throw violation(this, "a hole chunk");
        }
    }

    @Override
    void complete() throws NbdProtocolViolationException {
        if (error != null) {
            future.completeExceptionally(error);
        } else if (descriptors == null) {
            throw violation(this, "no extents for context " + context);
        } else {
            future.complete(descriptors);
        }
    }

    @Override
    void fail(Throwable cause) {
        future.completeExceptionally(cause);
    }

    @Override
    void reset() {
        descriptors = null;
        error = null;
    }

    @Override
    String describe() {
        return "BLOCK_STATUS (" + context + ") of " + length + " bytes at offset " + offset;
    }
}
