package io.blockmover.nbd.esx;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;

/** Test helper: what any disk view or content holds in a range, as an array. */
final class Bytes {
    private Bytes() {}

    static byte[] of(DiskContent.Reader reader, long offset, int length) {
        ByteBuf b = Unpooled.buffer(length);
        try {
            reader.read(offset, length, b);
            return ByteBufUtil.getBytes(b);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } finally {
            b.release();
        }
    }
}
