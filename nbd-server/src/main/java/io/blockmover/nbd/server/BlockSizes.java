package io.blockmover.nbd.server;

/** NBD_INFO_BLOCK_SIZE: minimum, preferred and maximum payload sizes in bytes. */
public record BlockSizes(int minimum, int preferred, int maximumPayload) {
    public static final BlockSizes DEFAULT = new BlockSizes(1, 4096, 32 * 1024 * 1024);

    public BlockSizes {
        if (Integer.bitCount(minimum) != 1 || minimum > 65536) {
            throw new IllegalArgumentException("minimum block size must be a power of two <= 64 KiB: " + minimum);
        }
        if (Integer.bitCount(preferred) != 1 || preferred < minimum) {
            throw new IllegalArgumentException("preferred block size must be a power of two >= minimum: " + preferred);
        }
        if (maximumPayload < preferred) {
            throw new IllegalArgumentException("maximum payload must be >= preferred: " + maximumPayload);
        }
    }
}
