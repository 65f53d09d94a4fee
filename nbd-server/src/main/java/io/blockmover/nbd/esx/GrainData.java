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
     * without bookkeeping); the Netty wrapper is never released, so nothing else frees it.
     */
    record Stored(ByteBuf bytes) implements GrainData {
        static Stored allocate() {
            ByteBuf b = Unpooled.wrappedBuffer(ByteBuffer.allocateDirect(Grains.SIZE));
            b.clear();
            return new Stored(b);
        }

        @Override
        public void append(int from, int to, ByteBuf dst) {
            dst.writeBytes(bytes, from, to - from);
        }

        @Override
        public int allocationFlags() {
            return 0;
        }
    }
}
