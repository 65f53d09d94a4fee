package io.blockmover.nbd.server;

/**
 * One run of bytes with the same block status. For {@code base:allocation} the flags are
 * {@link #HOLE} and {@link #ZERO}; other meta contexts define their own bits.
 */
public record Extent(long length, int flags) {
    public static final int HOLE = 1;
    public static final int ZERO = 2;

    public Extent {
        if (length <= 0) {
            throw new IllegalArgumentException("extent length must be positive: " + length);
        }
    }
}
