package io.blockmover.nbd.esx;

/** The 64 KiB grain: the unit of generated content, of the write overlay and of CBT. */
public final class Grains {
    public static final int SHIFT = 16;
    public static final int SIZE = 1 << SHIFT;
    public static final long MASK = SIZE - 1;

    private Grains() {}

    public static long indexOf(long offset) {
        return offset >>> SHIFT;
    }

    public static long offsetOf(long grain) {
        return grain << SHIFT;
    }

    /** Number of grains needed to hold {@code bytes}. */
    public static long count(long bytes) {
        return (bytes + MASK) >>> SHIFT;
    }
}
