package io.blockmover.nativebridge.vddk;

/** A run of a disk in bytes (the bridge converts VDDK's sectors at its edge). */
public record ByteExtent(long offset, long length) {
    public ByteExtent {
        if (offset < 0 || length <= 0) {
            throw new IllegalArgumentException("bad extent " + offset + "+" + length);
        }
    }

    public long end() {
        return offset + length;
    }
}
