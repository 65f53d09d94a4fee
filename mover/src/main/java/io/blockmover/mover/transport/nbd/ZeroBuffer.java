package io.blockmover.mover.transport.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;

/**
 * One read-only direct buffer of zeros whose slices stand for holes in read replies, so a
 * hole costs no allocation and no memset per request.
 */
final class ZeroBuffer {
    private static final int SIZE = 1 << 20;
    private final ByteBuf zeros = Unpooled.unreleasableBuffer(
            Unpooled.directBuffer(SIZE, SIZE).writeZero(SIZE).asReadOnly());

    /** Appends {@code length} zero bytes to {@code out} as slices. */
    void append(CompositeByteBuf out, long length) {
        long left = length;
        while (left > 0) {
            int n = (int) Math.min(left, SIZE);
            out.addComponent(true, zeros.retainedSlice(0, n));
            left -= n;
        }
    }
}
