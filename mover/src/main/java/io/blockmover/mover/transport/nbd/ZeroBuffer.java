package io.blockmover.mover.transport.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;

/**
 * One read-only direct buffer of zeros whose slices stand for holes in read replies, so a
 * hole costs no allocation and no memset per request. A constant: the JDK owns its memory,
 * reference counts are ignored, so slices may outlive any client.
 */
final class ZeroBuffer {
    private static final int SIZE = 1 << 20;
    private static final ByteBuf ZEROS = Unpooled.unreleasableBuffer(
            Unpooled.wrappedBuffer(ByteBuffer.allocateDirect(SIZE)).asReadOnly());

    private ZeroBuffer() {}

    /** Appends {@code length} zero bytes to {@code out} as slices. */
    static void append(CompositeByteBuf out, long length) {
        long left = length;
        while (left > 0) {
            int n = (int) Math.min(left, SIZE);
            out.addComponent(true, ZEROS.slice(0, n));
            left -= n;
        }
    }
}
