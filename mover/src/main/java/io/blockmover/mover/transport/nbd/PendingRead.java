package io.blockmover.mover.transport.nbd;

import io.blockmover.mover.transport.DiskIoException;
import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A READ. Data arrives as one simple reply or as structured chunks in any order; the chunks
 * are kept as retained slices of the receive buffers and handed to the caller as one buffer
 * (a composite when there are several), with shared zero slices for holes. Every byte must be
 * covered exactly once or the reply is a protocol violation.
 */
final class PendingRead extends Pending {
    private final long offset;
    private final int length;
    private final ByteBufAllocator alloc;
    final CompletableFuture<ByteBuf> future = new CompletableFuture<>();

    /** A reply covering everything in one buffer: the common case, kept without a list. */
    private ByteBuf whole;
    private List<Piece> pieces;
    private DiskIoException error;

    private record Piece(long offset, int length, ByteBuf data) {}

    PendingRead(long offset, int length, ByteBufAllocator alloc) {
        this.offset = offset;
        this.length = length;
        this.alloc = alloc;
    }

    @Override
    NbdRequest request(long cookie) {
        return NbdRequest.read(cookie, offset, length, 0);
    }

    @Override
    long simpleReplyLength() {
        return length;
    }

    @Override
    void accept(NbdReply reply) throws NbdProtocolViolationException {
        switch (reply) {
            case NbdReply.Simple s when s.error() != 0 -> error = new DiskIoException("read", offset, length, s.error(), null);
            case NbdReply.Simple s -> {
                if (s.data().readableBytes() != length || whole != null || pieces != null) {
                    throw violation(this, "simple reply with " + s.data().readableBytes() + " bytes");
                }
                whole = s.data().retain();
            }
            case NbdReply.OffsetData d -> {
                int n = d.data().readableBytes();
                checkRange(d.offset(), n);
                if (d.offset() == offset && n == length && whole == null && pieces == null) {
                    whole = d.data().retain();
                } else {
                    add(new Piece(d.offset(), n, d.data().retain()));
                }
            }
            case NbdReply.OffsetHole h -> {
                checkRange(h.offset(), h.length());
                add(new Piece(h.offset(), h.length(), null));
            }
            case NbdReply.None n -> { }
            case NbdReply.ErrorOffset e -> {
                if (e.offset() < offset || e.offset() >= offset + length) {
                    throw violation(this, "error at offset " + e.offset() + " outside the request");
                }
                if (error == null) {
                    error = new DiskIoException("read", e.offset(), offset + length - e.offset(), e.error(), e.message());
                }
            }
            case NbdReply.Error e -> {
                if (error == null) {
                    error = new DiskIoException("read", offset, length, e.error(), e.message());
                }
            }
            case NbdReply.BlockStatus b -> throw violation(this, "a block status chunk");
        }
    }

    private void checkRange(long chunkOffset, long chunkLength) throws NbdProtocolViolationException {
        if (chunkOffset < offset || chunkOffset + chunkLength > offset + length) {
            throw violation(this, "chunk [" + chunkOffset + ", +" + chunkLength + ") outside the request");
        }
    }

    private void add(Piece p) {
        if (pieces == null) {
            pieces = new ArrayList<>(4);
            if (whole != null) {
                pieces.add(new Piece(offset, length, whole));
                whole = null;
            }
        }
        pieces.add(p);
    }

    @Override
    void complete() throws NbdProtocolViolationException {
        if (error != null) {
            DiskIoException e = error;
            reset();
            future.completeExceptionally(e);
            return;
        }
        if (whole != null) {
            ByteBuf out = whole;
            whole = null;
            future.complete(out);
            return;
        }
        if (pieces == null) {
            throw violation(this, "success without any data");
        }
        pieces.sort(Comparator.comparingLong(Piece::offset));
        long at = offset;
        for (Piece p : pieces) {
            if (p.offset() != at) {
                throw violation(this, p.offset() < at ? "overlapping chunks at offset " + p.offset()
                        : "no data for [" + at + ", " + p.offset() + ")");
            }
            at += p.length();
        }
        if (at != offset + length) {
            throw violation(this, "no data for [" + at + ", " + (offset + length) + ")");
        }
        CompositeByteBuf out = alloc.compositeDirectBuffer(pieces.size() + 2);
        for (Piece p : pieces) {
            if (p.data() != null) {
                out.addComponent(true, p.data());
            } else {
                ZeroBuffer.append(out, p.length());
            }
        }
        pieces = null;
        future.complete(out);
    }

    @Override
    void fail(Throwable cause) {
        reset();
        future.completeExceptionally(cause);
    }

    @Override
    void reset() {
        if (whole != null) {
            whole.release();
            whole = null;
        }
        if (pieces != null) {
            pieces.forEach(p -> ReferenceCountUtil.release(p.data()));
            pieces = null;
        }
        error = null;
    }

    @Override
    String describe() {
        return "READ of " + length + " bytes at offset " + offset;
    }
}
