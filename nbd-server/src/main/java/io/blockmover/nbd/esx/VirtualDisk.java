package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.Extent;
import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * One live, thin virtual disk: generated base content, an overlay of written 64 KiB grains, and
 * Changed Block Tracking. Memory grows with the grains written, never with the capacity.
 *
 * <p>Every write tags its grains with the disk's current change sequence. Freezing (a snapshot)
 * hands out the current sequence as the changeId and moves to the next one, so "changed since
 * changeId N" is exactly "tag greater than N". Writers share a read lock; freezing takes the write
 * lock, so a snapshot never sees half of a write and a writer never changes a grain a snapshot
 * holds (data of an older epoch is copied, not changed in place).
 */
public final class VirtualDisk {

    /** Change tracking: on since {@code since}, under {@code trackingId} (empty when off). */
    private record Cbt(boolean enabled, long since, String trackingId) {
        static final Cbt OFF = new Cbt(false, 0, "");
    }

    /** A point-in-time view handed to a snapshot. */
    record Frozen(DiskImage image, long sequence, Optional<ChangeId> changeId) {}

    private final DiskSpec spec;
    private final DiskImage image;
    private final GrainTable table;
    private final ReentrantReadWriteLock freezeLock;
    private volatile long sequence = 1;
    private volatile long epoch;
    private volatile Cbt cbt = Cbt.OFF;
    /** Tracking ids this disk issued before its last reset: their changeIds get "predates the reset". */
    private final Set<String> endedTrackingIds = ConcurrentHashMap.newKeySet();

    public VirtualDisk(DiskSpec spec, BaseContent content) {
        this(spec, content, new ReentrantReadWriteLock());
    }

    /**
     * A disk whose writes and freezes go through {@code freezeLock}; the disks of one VM share
     * one, so a snapshot freezes all of them at the same instant (crash-consistent across disks).
     */
    VirtualDisk(DiskSpec spec, BaseContent content, ReentrantReadWriteLock freezeLock) {
        this.freezeLock = freezeLock;
        if (content.capacity() != spec.capacity()) {
            throw new IllegalArgumentException("content capacity " + content.capacity()
                    + " differs from disk capacity " + spec.capacity());
        }
        this.spec = spec;
        this.table = new GrainTable(content.grainCount());
        this.image = new DiskImage(content, table);
    }

    public DiskSpec spec() {
        return spec;
    }

    public BaseContent content() {
        return image.content();
    }

    public long capacity() {
        return spec.capacity();
    }

    /** Grains in the overlay (written at least once). */
    public long writtenGrains() {
        return table.size();
    }

    /** Chunks of the overlay's grain table; with {@link #writtenGrains()}, the overlay's size. */
    public long overlayChunks() {
        return table.chunkCount();
    }

    public boolean cbtEnabled() {
        return cbt.enabled();
    }

    // ---- reads -------------------------------------------------------------------------------

    public void read(long offset, int length, ByteBuf dst) {
        checkRange(offset, length);
        image.read(offset, length, dst);
    }

    public List<Extent> extents(long offset, long length) {
        checkRange(offset, length);
        return image.extents(offset, length);
    }

    // ---- writes ------------------------------------------------------------------------------

    /** Writes the readable bytes of {@code src} at {@code offset} (not consumed). */
    public void write(long offset, ByteBuf src) {
        write(offset, src, true);
    }

    /**
     * A write Changed Block Tracking does not see: a fault for testing that a backup verified
     * against its source notices what an incremental missed.
     */
    public void writeUntracked(long offset, ByteBuf src) {
        write(offset, src, false);
    }

    private void write(long offset, ByteBuf src, boolean tracked) {
        int length = src.readableBytes();
        checkRange(offset, length);
        // one NIO view per request: the grains copy from it with absolute operations only
        ByteBuffer view = src.nioBuffer(src.readerIndex(), length);
        int base = view.position();
        freezeLock.readLock().lock();
        try {
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                long grain = Grains.indexOf(pos);
                int from = (int) (pos & Grains.MASK);
                int to = (int) Math.min(Grains.SIZE, end - Grains.offsetOf(grain));
                int at = base + (int) (pos - offset);
                if (from == 0 && to == grainLength(grain)) {
                    GrainData.Stored s = GrainData.Stored.allocate();
                    s.bytes().put(0, view, at, to);
                    install(grain, s, tracked);
                } else {
                    patch(grain, from, to, tracked, (bytes, index) -> bytes.put(index, view, at, to - from));
                }
                pos += to - from;
            }
        } finally {
            freezeLock.readLock().unlock();
        }
    }

    /** Makes a range read as zeros; whole grains become holes when {@code punch}, else allocated zeros. */
    public void writeZeroes(long offset, long length, boolean punch) {
        checkRange(offset, length);
        GrainData whole = punch ? GrainData.Hole.INSTANCE : GrainData.Zero.INSTANCE;
        freezeLock.readLock().lock();
        try {
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                long grain = Grains.indexOf(pos);
                int from = (int) (pos & Grains.MASK);
                int to = (int) Math.min(Grains.SIZE, end - Grains.offsetOf(grain));
                if (from == 0 && to == grainLength(grain)) {
                    install(grain, whole, true);
                } else {
                    patch(grain, from, to, true, (bytes, index) -> bytes.put(index, GrainData.Stored.ZEROS, 0, to - from));
                }
                pos += to - from;
            }
        } finally {
            freezeLock.readLock().unlock();
        }
    }

    /** A whole grain of generated data from the guest workload, stored as its seed. */
    void guestWrite(long grain, boolean text, long grainSeed, boolean tracked) {
        if (grain < 0 || grain >= image.content().grainCount()) {
            throw new IndexOutOfBoundsException("grain " + grain + " outside disk");
        }
        freezeLock.readLock().lock();
        try {
            install(grain, new GrainData.Generated(text, grainSeed), tracked);
        } finally {
            freezeLock.readLock().unlock();
        }
    }

    private int grainLength(long grain) {
        return (int) Math.min(Grains.SIZE, capacity() - Grains.offsetOf(grain));
    }

    private void install(long grain, GrainData data, boolean tracked) {
        long e = epoch;
        while (true) {
            GrainVersion old = table.get(grain);
            GrainVersion next = new GrainVersion(data, tagFor(old, tracked), e);
            if (table.compareAndSet(grain, old, next)) {
                return;
            }
        }
    }

    private long tagFor(GrainVersion old, boolean tracked) {
        if (tracked) {
            return sequence;
        }
        return old == null ? 0 : old.tag();
    }

    /** Changes part of a grain: in place when this epoch owns its bytes, else on a private copy. */
    @FunctionalInterface
    private interface Patch {
        void apply(ByteBuffer grainBytes, int index);
    }

    private void patch(long grain, int from, int to, boolean tracked, Patch patch) {
        long e = epoch;
        while (true) {
            GrainVersion old = table.get(grain);
            GrainData.Stored target;
            if (old != null && old.epoch() == e && old.data() instanceof GrainData.Stored owned) {
                target = owned;
            } else {
                target = GrainData.Stored.allocate();
                image.appendGrain(grain, 0, grainLength(grain), target.fillView());
            }
            patch.apply(target.bytes(), from);
            if (table.compareAndSet(grain, old, new GrainVersion(target, tagFor(old, tracked), e))) {
                return;
            }
        }
    }

    // ---- change tracking ---------------------------------------------------------------------

    /**
     * The changeId a VM's configuration shows on this disk's backing: the point of the last
     * freeze under the current tracking; empty when CBT is off or nothing was frozen since it
     * was enabled.
     */
    public Optional<ChangeId> liveChangeId() {
        Cbt state = cbt;
        long last = sequence - 1;
        return state.enabled() && last >= state.since() ? Optional.of(new ChangeId(state.trackingId(), last))
                : Optional.empty();
    }

    /** Turns CBT on; changeIds handed out before are not accepted (as after a CBT reset). */
    public void enableCbt() {
        if (!spec.snapshotted()) {
            throw new IllegalStateException("changed block tracking is not supported on independent disk or physical RDM "
                    + spec.fileName());
        }
        freezeLock.writeLock().lock();
        try {
            if (!cbt.enabled()) {
                // Random, so a restarted host (same seed, same disk uuids) never honours old changeIds.
                cbt = new Cbt(true, sequence, UUID.randomUUID().toString());
            }
        } finally {
            freezeLock.writeLock().unlock();
        }
    }

    public void disableCbt() {
        freezeLock.writeLock().lock();
        try {
            if (cbt.enabled()) {
                endedTrackingIds.add(cbt.trackingId());
            }
            cbt = Cbt.OFF;
        } finally {
            freezeLock.writeLock().unlock();
        }
    }

    /** Disable and enable: every changeId handed out so far becomes invalid. */
    public void resetCbt() {
        freezeLock.writeLock().lock();
        try {
            disableCbt();
            enableCbt();
        } finally {
            freezeLock.writeLock().unlock();
        }
    }

    /**
     * Areas of the live disk changed since {@code changeId} (or, for {@code "*"}, all allocated
     * areas), from {@code startOffset}; see {@link ChangedAreas} for paging.
     */
    public ChangedAreas changedAreas(String changeId, long startOffset) throws ChangeIdFault {
        checkRange(startOffset, 0);
        if ("*".equals(changeId)) {
            return image.allocatedAreas(startOffset);
        }
        return image.changedSince(validate(changeId, sequence - 1), startOffset);
    }

    /** The sequence of a changeId usable for a state frozen at {@code upTo}, or a fault. */
    long validate(String changeId, long upTo) throws ChangeIdFault {
        ChangeId id = ChangeId.parse(changeId);
        Cbt state = cbt;
        if (!state.enabled()) {
            throw new ChangeIdFault(ChangeIdFault.Reason.CBT_DISABLED, changeId,
                    "changed block tracking is not enabled on " + spec.fileName());
        }
        if (!id.trackingId().equals(state.trackingId())) {
            if (endedTrackingIds.contains(id.trackingId())) {
                throw new ChangeIdFault(ChangeIdFault.Reason.BEFORE_CBT_ENABLED, changeId,
                        "changeId predates the enabling (or last reset) of changed block tracking on " + spec.fileName());
            }
            throw new ChangeIdFault(ChangeIdFault.Reason.OTHER_DISK, changeId,
                    "changeId was not issued by the change tracking of " + spec.fileName()
                            + " (another disk's, or from before the host restarted)");
        }
        if (id.sequence() < state.since()) {
            throw new ChangeIdFault(ChangeIdFault.Reason.BEFORE_CBT_ENABLED, changeId,
                    "changeId predates the enabling (or last reset) of changed block tracking on " + spec.fileName());
        }
        if (id.sequence() > upTo) {
            throw new ChangeIdFault(ChangeIdFault.Reason.UNKNOWN_SEQUENCE, changeId,
                    "changeId is later than the disk state asked about on " + spec.fileName());
        }
        return id.sequence();
    }

    /** Freezes the current content for a snapshot and starts a new change sequence. */
    Frozen freeze() {
        freezeLock.writeLock().lock();
        try {
            long s = sequence;
            DiskImage frozen = new DiskImage(image.content(), table.copy());
            sequence = s + 1;
            epoch = epoch + 1;
            Optional<ChangeId> id = cbt.enabled() ? Optional.of(new ChangeId(cbt.trackingId(), s)) : Optional.empty();
            return new Frozen(frozen, s, id);
        } finally {
            freezeLock.writeLock().unlock();
        }
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > capacity() || offset + length < 0) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + length
                    + " outside disk of " + capacity() + " bytes");
        }
    }
}
