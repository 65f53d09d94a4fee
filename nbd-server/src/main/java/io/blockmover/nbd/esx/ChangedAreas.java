package io.blockmover.nbd.esx;

import io.blockmover.nbd.units.ByteRange;

import java.util.List;

/**
 * The answer to one changed-areas query, shaped like vSphere's {@code DiskChangeInfo}: it covers
 * {@code [startOffset, startOffset + length)} and lists the changed areas within it. When the
 * length stops short of the capacity, ask again from {@code startOffset + length}.
 */
public record ChangedAreas(long startOffset, long length, List<ByteRange> areas) {
    public ChangedAreas {
        areas = List.copyOf(areas);
    }

    public long changedBytes() {
        return areas.stream().mapToLong(ByteRange::length).sum();
    }
}
