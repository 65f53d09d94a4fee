package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.Extent;
import io.blockmover.nbd.units.ByteRange;

import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;

/**
 * A readable disk state: generated base content under an overlay of written grains. The live
 * disk reads through its changing table; a snapshot through a frozen copy of it.
 */
final class DiskImage {
    /** Bounds one block-status answer; a client asks again for the rest. */
    static final int MAX_EXTENTS = 65_536;
    /** Bounds one changed-areas answer, as vSphere pages {@code QueryChangedDiskAreas}. */
    static final int MAX_AREAS = 65_536;
    /** Flag of the {@code blockmover:changed:} meta context: changed since the changeId. */
    static final int CHANGED = 1;

    private final BaseContent content;
    private final GrainTable table;

    DiskImage(BaseContent content, GrainTable table) {
        this.content = content;
        this.table = table;
    }

    long capacity() {
        return content.capacity();
    }

    BaseContent content() {
        return content;
    }

    GrainTable table() {
        return table;
    }

    void read(long offset, int length, ByteBuf dst) {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long grain = Grains.indexOf(pos);
            int from = (int) (pos & Grains.MASK);
            int to = (int) Math.min(Grains.SIZE, end - Grains.offsetOf(grain));
            appendGrain(grain, from, to, dst);
            pos += to - from;
        }
    }

    void appendGrain(long grain, int from, int to, ByteBuf dst) {
        GrainVersion v = table.get(grain);
        if (v == null) {
            content.appendGrain(grain, from, to, dst);
        } else {
            v.data().append(from, to, dst);
        }
    }

    private int allocationFlags(long grain) {
        GrainVersion v = table.get(grain);
        return v == null ? content.allocationFlags(grain) : v.data().allocationFlags();
    }

    /** {@code base:allocation} extents from {@code offset}, at most {@link #MAX_EXTENTS}. */
    List<Extent> extents(long offset, long length) {
        ExtentBuilder out = new ExtentBuilder();
        long end = offset + length;
        long pos = offset;
        while (pos < end && out.size() < MAX_EXTENTS) {
            long grain = Grains.indexOf(pos);
            long next = Math.min(end, Grains.offsetOf(grain + 1));
            out.add(next - pos, allocationFlags(grain));
            pos = next;
        }
        return out.build();
    }

    /** Extents of the changed context: {@link #CHANGED} where a grain's tag is above {@code since}. */
    List<Extent> changedStatus(long since, long offset, long length) {
        ExtentBuilder out = new ExtentBuilder();
        long end = offset + length;
        long pos = offset;
        long lastGrain = Grains.count(end);
        while (pos < end && out.size() < MAX_EXTENTS) {
            long written = table.nextWritten(Grains.indexOf(pos), lastGrain);
            while (written >= 0 && table.get(written).tag() <= since) {
                written = table.nextWritten(written + 1, lastGrain);
            }
            if (written < 0) {
                out.add(end - pos, 0);
                break;
            }
            long changedStart = Math.max(pos, Grains.offsetOf(written));
            long changedEnd = Math.min(end, Grains.offsetOf(written + 1));
            out.add(changedStart - pos, 0);
            out.add(changedEnd - changedStart, CHANGED);
            pos = changedEnd;
        }
        return out.build();
    }

    /** Grains tagged above {@code since}, from {@code start}, merged into byte areas. */
    ChangedAreas changedSince(long since, long start) {
        List<ByteRange> areas = new ArrayList<>();
        long lastGrain = Grains.count(capacity());
        long g = Grains.indexOf(start);
        long areaStart = -1;
        long areaEnd = -1;
        while (true) {
            g = table.nextWritten(g, lastGrain);
            if (g < 0) {
                break;
            }
            if (table.get(g).tag() > since) {
                long s = Math.max(start, Grains.offsetOf(g));
                long e = Math.min(capacity(), Grains.offsetOf(g + 1));
                if (s == areaEnd) {
                    areaEnd = e;
                } else {
                    if (areaStart >= 0) {
                        areas.add(new ByteRange(areaStart, areaEnd - areaStart));
                        if (areas.size() == MAX_AREAS) {
                            return new ChangedAreas(start, areaEnd - start, areas);
                        }
                    }
                    areaStart = s;
                    areaEnd = e;
                }
            }
            g++;
        }
        if (areaStart >= 0) {
            areas.add(new ByteRange(areaStart, areaEnd - areaStart));
        }
        return new ChangedAreas(start, capacity() - start, areas);
    }

    /** Allocated (non-hole) areas from {@code start}: the answer to changeId {@code *}. */
    ChangedAreas allocatedAreas(long start) {
        List<ByteRange> areas = new ArrayList<>();
        long pos = start;
        while (pos < capacity()) {
            for (Extent e : extents(pos, capacity() - pos)) {
                if ((e.flags() & Extent.HOLE) == 0) {
                    ByteRange last = areas.isEmpty() ? null : areas.getLast();
                    if (last != null && last.end() == pos) {
                        areas.set(areas.size() - 1, new ByteRange(last.offset(), last.length() + e.length()));
                    } else {
                        if (areas.size() == MAX_AREAS) {
                            return new ChangedAreas(start, pos - start, areas);
                        }
                        areas.add(new ByteRange(pos, e.length()));
                    }
                }
                pos += e.length();
            }
        }
        return new ChangedAreas(start, capacity() - start, areas);
    }
}
