package io.blockmover.mover.transport.vddk;

import io.blockmover.nativebridge.vddk.AlignedBuffers;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.buffer.UnpooledDirectByteBuf;

/**
 * A Netty buffer over one of the bridge's aligned native buffers: VDDK reads straight into it,
 * the pipeline consumes it like any other ByteBuf, and its last release hands the native buffer
 * back to the pool instead of freeing it.
 */
final class SegmentByteBuf extends UnpooledDirectByteBuf {
    private final AlignedBuffers.Buffer buffer;

    SegmentByteBuf(AlignedBuffers.Buffer buffer, int length) {
        super(UnpooledByteBufAllocator.DEFAULT, buffer.segment().asByteBuffer(), (int) buffer.segment().byteSize());
        this.buffer = buffer;
        writerIndex(length);
    }

    @Override
    protected void deallocate() {
        super.deallocate(); // drops the ByteBuffer without freeing it (Netty did not allocate it)
        buffer.close();
    }
}
