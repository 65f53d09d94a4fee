package io.blockmover.mover.transport;

/**
 * A run of bytes with one allocation state. The pipeline reads only {@link Kind#DATA}; a
 * {@link Kind#ZERO} run reads as zeros but is allocated, a {@link Kind#HOLE} is unallocated
 * (and also reads as zeros).
 */
public record DiskExtent(long offset, long length, Kind kind) {
    public enum Kind { DATA, ZERO, HOLE }

    public DiskExtent {
        if (offset < 0 || length <= 0 || offset + length < offset) {
            throw new IllegalArgumentException("bad extent: offset " + offset + " length " + length);
        }
    }

    public long end() {
        return offset + length;
    }
}
