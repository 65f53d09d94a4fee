package io.blockmover.mover.pipeline;

import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;

/**
 * A chunk's bytes as one direct {@link ByteBuffer} for hashing and compression. A chunk that
 * arrived in one piece is viewed in place (no copy). One that arrived in several (a composite
 * of socket buffers, as a zero-copy NBD client delivers a 1 MiB read) is copied once into a
 * direct buffer kept per worker thread: Netty's own merge would allocate a fresh heap buffer per
 * chunk, which the digest then consumes in one call per chunk, too few calls for the JIT to
 * switch SHA-256 to its hardware intrinsic in a short-lived backup process.
 */
final class DirectView {
    private static final ThreadLocal<ByteBuffer> SCRATCH = new ThreadLocal<>();

    private DirectView() {}

    /** The readable bytes of {@code buf}; valid until this thread's next call, and while {@code buf} lives. */
    static ByteBuffer of(ByteBuf buf) {
        int length = buf.readableBytes();
        if (buf.nioBufferCount() == 1 && buf.isDirect()) {
            return buf.nioBuffer(buf.readerIndex(), length);
        }
        ByteBuffer scratch = SCRATCH.get();
        if (scratch == null || scratch.capacity() < length) {
            scratch = ByteBuffer.allocateDirect(length);
            SCRATCH.set(scratch);
        }
        scratch.clear().limit(length);
        buf.getBytes(buf.readerIndex(), scratch);
        return scratch.flip();
    }
}
