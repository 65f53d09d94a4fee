package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.Extent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.nio.ByteBuffer;

/** The content of one written grain in a disk's overlay. */
sealed interface GrainData {

    /** Appends bytes {@code [from, to)} of this grain to {@code dst}. */
    void append(int from, int to, ByteBuf dst);

    /** {@code base:allocation} flags of this grain. */
    int allocationFlags();

    /** Trimmed or punched: reads as zeros, reported as a hole. */
    record Hole() implements GrainData {
        static final Hole INSTANCE = new Hole();

        @Override
        public void append(int from, int to, ByteBuf dst) {
            dst.writeZero(to - from);
        }

        @Override
        public int allocationFlags() {
            return Extent.HOLE | Extent.ZERO;
        }
    }

    /** Zeroed without punching: allocated zeros. */
    record Zero() implements GrainData {
        static final Zero INSTANCE = new Zero();

        @Override
        public void append(int from, int to, ByteBuf dst) {
            dst.writeZero(to - from);
        }

        @Override
        public int allocationFlags() {
            return Extent.ZERO;
        }
    }

    /**
     * A whole grain written by the built-in guest workload: stored as its generator seed, so a
     * workload can rewrite gigabytes while the overlay costs a few dozen bytes per grain.
     */
    record Generated(boolean text, long grainSeed) implements GrainData {
        @Override
        public void append(int from, int to, ByteBuf dst) {
            if (text) {
                Generators.appendText(grainSeed, from, to, dst);
            } else {
                Generators.appendRandom(grainSeed, from, to, dst);
            }
        }

        @Override
        public int allocationFlags() {
            return 0;
        }
    }

    /**
     * Arbitrary bytes written by a client. Kept off-heap in a JDK direct buffer that the garbage
     * collector frees once no disk view references the grain (a removed snapshot frees its grains
     * without bookkeeping). Many threads read one grain at once, so the buffer is only ever used
     * through absolute bulk operations, which leave its position and limit alone.
     */
    record Stored(ByteBuffer bytes) implements GrainData {
        /** A grain of zeros to copy from; read-only, absolute reads only. */
        static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(Grains.SIZE).asReadOnlyBuffer();

        static Stored allocate() {
            return new Stored(ByteBuffer.allocateDirect(Grains.SIZE));
        }

        /** A Netty view for filling a grain not yet visible to other threads. */
        ByteBuf fillView() {
            return Unpooled.wrappedBuffer(bytes.duplicate()).clear();
        }

        @Override
        public void append(int from, int to, ByteBuf dst) {
            int n = to - from;
            int w = dst.writerIndex();
            dst.ensureWritable(n);
            if (dst.nioBufferCount() == 1) {
                ByteBuffer window = dst.internalNioBuffer(w, n);
                window.put(window.position(), bytes, from, n);
            } else {
                dst.setBytes(w, bytes.slice(from, n));
            }
            dst.writerIndex(w + n);
        }

        @Override
        public int allocationFlags() {
            return 0;
        }
    }
}
