package io.blockmover.mover.transport;

/**
 * The I/O sizes a disk accepts, in bytes: every offset and length must be a multiple of
 * {@code minimum} (512 for VDDK's sectors; 1 for most NBD servers), {@code preferred} is the
 * size below which a request costs a read-modify-write, and no single request may exceed
 * {@code maximum}.
 */
public record BlockConstraints(int minimum, int preferred, int maximum) {
    public BlockConstraints {
        if (Integer.bitCount(minimum) != 1 || preferred < minimum || maximum < preferred) {
            throw new IllegalArgumentException("bad block constraints: minimum " + minimum
                    + ", preferred " + preferred + ", maximum " + maximum);
        }
    }

    /** True when offset and length are multiples of the minimum block size. */
    public boolean aligned(long offset, long length) {
        long mask = minimum - 1L;
        return (offset & mask) == 0 && (length & mask) == 0;
    }

    /** The largest request size not above {@code wanted} that fits these constraints. */
    public int requestSize(int wanted) {
        int size = Math.min(Math.max(wanted, preferred), maximum);
        return size - (size % minimum);
    }
}
