package io.blockmover.mover.pipeline;

import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.nbd.units.ByteRange;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.ToLongFunction;

/**
 * What to do with every chunk of a disk, as runs of consecutive chunks with one action: read
 * it, mark it as a hole or zeros without reading, or take it unchanged from the parent backup.
 * A 1 TiB disk has a million chunks but usually a few thousand runs, so the plan stays small.
 *
 * <p>A chunk is read when any byte of it is allocated data (and, on an incremental, when any
 * byte of it changed); changed areas are thereby rounded out to chunk boundaries.
 */
public record ChunkPlan(long capacity, int chunkSize, List<Run> runs) {

    public enum Action {
        /** Fetch from the source and store. */
        READ,
        /** Unallocated on the source: recorded as zeros, never read. */
        HOLE,
        /** Allocated but known to read as zeros: recorded as zeros, never read. */
        ZERO,
        /** Unchanged since the parent backup: its entries are reused, never read. */
        REUSE
    }

    /** Consecutive chunks [offset, offset + length) with one action; length ends at a chunk or the capacity. */
    public record Run(long offset, long length, Action action) {}

    public ChunkPlan {
        runs = List.copyOf(runs);
    }

    /**
     * Plans a disk from its allocation and, for an incremental, the areas changed since the
     * parent (empty for a full backup).
     *
     * @param extents consecutive extents covering [0, capacity), as a {@code DiskSource} reports them
     * @param changed sorted, non-overlapping changed ranges, or empty for a full backup
     */
    public static ChunkPlan of(long capacity, int chunkSize, List<DiskExtent> extents, Optional<List<ByteRange>> changed) {
        if (Integer.bitCount(chunkSize) != 1) {
            throw new IllegalArgumentException("chunk size must be a power of two: " + chunkSize);
        }
        List<Run> runs = new ArrayList<>();
        Cursor<DiskExtent> ext = new Cursor<>(extents, DiskExtent::offset, DiskExtent::end);
        Cursor<ByteRange> chg = changed.map(c -> new Cursor<>(c, ByteRange::offset, ByteRange::end)).orElse(null);
        for (long start = 0; start < capacity; start += chunkSize) {
            long end = Math.min(capacity, start + chunkSize);
            Action action;
            if (chg != null && !chg.intersects(start, end)) {
                action = Action.REUSE;
            } else {
                action = classify(ext, start, end);
            }
            if (!runs.isEmpty() && runs.getLast().action() == action) {
                Run last = runs.removeLast();
                runs.add(new Run(last.offset(), end - last.offset(), action));
            } else {
                runs.add(new Run(start, end - start, action));
            }
        }
        return new ChunkPlan(capacity, chunkSize, runs);
    }

    /** READ if any allocated data touches [start, end); HOLE if all of it is unallocated; else ZERO. */
    private static Action classify(Cursor<DiskExtent> ext, long start, long end) {
        boolean allHole = true;
        boolean covered = false;
        for (int i = ext.skipTo(start); i < ext.items.size() && ext.items.get(i).offset() < end; i++) {
            DiskExtent e = ext.items.get(i);
            covered = true;
            if (e.kind() == DiskExtent.Kind.DATA) {
                return Action.READ;
            }
            allHole &= e.kind() == DiskExtent.Kind.HOLE;
        }
        // A range the source said nothing about is read: never assume zeros we were not told of.
        return !covered ? Action.READ : allHole ? Action.HOLE : Action.ZERO;
    }

    /** Bytes of the disk each action covers. */
    public long bytes(Action action) {
        return runs.stream().filter(r -> r.action() == action).mapToLong(Run::length).sum();
    }

    /**
     * A forward-only walk over sorted, non-overlapping ranges, for queries whose start never
     * decreases: the whole plan is then linear in chunks plus ranges.
     */
    private static final class Cursor<T> {
        final List<T> items;
        private final ToLongFunction<T> startOf;
        private final ToLongFunction<T> endOf;
        private int next;

        Cursor(List<T> items, ToLongFunction<T> startOf, ToLongFunction<T> endOf) {
            this.items = items;
            this.startOf = startOf;
            this.endOf = endOf;
        }

        /** Index of the first item not wholly before {@code start}; earlier items are passed for good. */
        int skipTo(long start) {
            while (next < items.size() && endOf.applyAsLong(items.get(next)) <= start) {
                next++;
            }
            return next;
        }

        boolean intersects(long start, long end) {
            int i = skipTo(start);
            return i < items.size() && startOf.applyAsLong(items.get(i)) < end;
        }
    }
}
