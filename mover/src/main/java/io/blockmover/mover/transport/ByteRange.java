package io.blockmover.mover.transport;

/** A run of bytes on a disk: offset and length in bytes. */
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
