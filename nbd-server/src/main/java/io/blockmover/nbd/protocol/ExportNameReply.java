package io.blockmover.nbd.protocol;

/**
 * The answer to NBD_OPT_EXPORT_NAME: u64 size, u16 transmission flags, then 124 zero bytes
 * unless both sides agreed on NO_ZEROES.
 */
public record ExportNameReply(long size, int transmissionFlags, boolean zeroPadding) {
    public ExportNameReply {
        if (size < 0) {
            throw new IllegalArgumentException("export size is negative: " + size);
        }
        if ((transmissionFlags & ~0xFFFF) != 0) {
            throw new IllegalArgumentException("transmission flags are 16 bits: " + transmissionFlags);
        }
    }
}
