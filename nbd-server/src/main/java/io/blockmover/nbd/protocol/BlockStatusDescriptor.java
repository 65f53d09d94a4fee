package io.blockmover.nbd.protocol;

/** One entry of a BLOCK_STATUS chunk: a run length in bytes and the context's state flags. */
public record BlockStatusDescriptor(long length, int flags) {
    public BlockStatusDescriptor {
        if (length <= 0 || length > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("block status length must be 1..2^32-1: " + length);
        }
    }
}
