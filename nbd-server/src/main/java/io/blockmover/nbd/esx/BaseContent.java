package io.blockmover.nbd.esx;

import io.netty.buffer.ByteBuf;

/**
 * What a virtual disk holds before anything writes to it: generated content that anyone holding
 * the seed can recompute ({@link DiskContent}), or the bytes of a raw image file
 * ({@link ImageContent}), such as the benchmark's reference image. Writes land in an overlay on top.
 */
public sealed interface BaseContent permits DiskContent, ImageContent {

    long capacity();

    default long grainCount() {
        return Grains.count(capacity());
    }

    /** Appends bytes {@code [from, to)} of this grain (0 <= from <= to <= 64 KiB, within the capacity). */
    void appendGrain(long grain, int from, int to, ByteBuf dst);

    /** The grain's {@code base:allocation} flags: {@link io.blockmover.nbd.server.Extent#HOLE} and/or ZERO, or 0 for data. */
    int allocationFlags(long grain);

    /** Appends {@code length} bytes from {@code offset} to {@code dst}. */
    default void read(long offset, int length, ByteBuf dst) {
        if (offset < 0 || length < 0 || offset + length > capacity()) {
            throw new IllegalArgumentException("range " + offset + "+" + length + " outside content of " + capacity() + " bytes");
        }
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long grain = Grains.indexOf(pos);
            int from = (int) (pos & Grains.MASK);
            int to = (int) Math.min(Grains.SIZE, end - Grains.offsetOf(grain));
            appendGrain(grain, from, to, dst);
            pos += to - from;
        }
    }

    /** SHA-256 (lower-case hex) of the whole content. */
    default String sha256() {
        return DiskContent.sha256Of(this::read, capacity());
    }
}
