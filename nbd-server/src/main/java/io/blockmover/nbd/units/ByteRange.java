package io.blockmover.nbd.units;

/** A run of bytes on a disk or export: offset and length in bytes (a length of 0 is an empty run). */
public record ByteRange(long offset, long length) {
    public ByteRange {
        if (offset < 0 || length < 0 || offset + length < offset) {
            throw new IllegalArgumentException("bad byte range: offset " + offset + " length " + length);
        }
    }

    public long end() {
        return offset + length;
    }
}
