package io.blockmover.index.backup;

import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.ManifestKeys;
import io.blockmover.index.manifest.ManifestStore;
import io.blockmover.index.manifest.StagedManifest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Supplier;
import java.util.concurrent.atomic.LongAdder;

/**
 * Receives one disk's chunks by byte offset, from any number of threads at once. Every chunk
 * of the disk must be given exactly by {@link #put}, {@link #putZero} or {@link #reuse} before the
 * backup commits. A chunk is {@code chunkSize} bytes at an offset that is a multiple of it; the
 * last one is shorter when the capacity is not a multiple. Direct buffers avoid a copy.
 */
public final class DiskWriter {
    private final RepoContext ctx;
    private final ChunkSink sink;
    private final BackupWriter owner;
    private final int index;
    private final DiskSpec spec;
    private final int chunkSize;
    private final long chunkCount;
    private final StagedManifest staged;
    private final DiskRecord parent;
    private final long parentId;
    private final ManifestStore parentManifests;
    private volatile CachedSegment lastParentSegment;
    /** The last chunks digested, by index modulo its length: the predecessor a new chunk links to (sub-chunk dedup). */
    private final AtomicReferenceArray<Digested> digested = new AtomicReferenceArray<>(256);

    private record Digested(long index, ChunkId id) {
    }
    final LongAdder newChunks = new LongAdder();
    final LongAdder newStoredBytes = new LongAdder();

    DiskWriter(RepoContext ctx, ChunkSink sink, BackupWriter owner, int index, DiskSpec spec, StagedManifest staged,
               DiskRecord parent, long parentId, ManifestStore parentManifests) {
        this.ctx = ctx;
        this.sink = sink;
        this.owner = owner;
        this.index = index;
        this.spec = spec;
        this.chunkSize = ctx.chunkSize();
        this.chunkCount = DiskRecord.chunkCount(spec.capacity(), chunkSize);
        this.staged = staged;
        this.parent = parent;
        this.parentId = parentId;
        this.parentManifests = parentManifests;
    }

    public DiskSpec spec() {
        return spec;
    }

    public int chunkSize() {
        return chunkSize;
    }

    public long chunkCount() {
        return chunkCount;
    }

    /** True when {@link #reuse} can take entries from the parent backup's disk of the same id. */
    public boolean hasParent() {
        return parent != null;
    }

    /** {@link #put} found the chunk all zeros: only marked, nothing stored. */
    public static final long ZERO = -2;
    /** {@link #put} found the chunk already in the repository (or in this backup): only referenced. */
    public static final long DUPLICATE = -1;

    /**
     * Stores the chunk at {@code offset} ({@code chunk}'s remaining bytes; its position is not
     * moved and it may be reused as soon as this returns). All-zero chunks are only marked.
     *
     * @return the bytes the chunk added to its pack when it was new, else {@link #ZERO} or {@link #DUPLICATE}
     */
    public long put(long offset, ByteBuffer chunk) throws IOException {
        owner.enter();
        try {
            return store(offset, chunk);
        } finally {
            owner.exit();
        }
    }

    private long store(long offset, ByteBuffer chunk) throws IOException {
        owner.checkOpen();
        long i = indexOf(offset);
        int expected = length(i);
        if (chunk.remaining() != expected) {
            throw new IllegalArgumentException("chunk at offset " + offset + " has " + chunk.remaining() + " bytes, expected " + expected);
        }
        ChunkCodec codec = ctx.codecs().borrow();
        sink.beginWork();
        try {
            if (codec.isZero(chunk)) {
                staged.set(i, null);
                return ZERO;
            }
            ChunkId id = codec.digest(chunk);
            digested.set((int) (i & 255), new Digested(i, id));
            Digested before = i == 0 ? null : digested.get((int) ((i - 1) & 255));
            long stored = sink.store(id, chunk, codec, before != null && before.index() == i - 1 ? before.id() : null,
                    () -> previousVersion(i));
            staged.set(i, id);
            if (stored >= 0) {
                newChunks.increment();
                newStoredBytes.add(stored);
                return stored;
            }
            return DUPLICATE;
        } catch (IOException | RuntimeException e) {
            sink.fail(e);
            throw e;
        } finally {
            sink.endWork();
            ctx.codecs().release(codec);
        }
    }

    /**
     * Stores the consecutive chunks of {@code run} (its remaining bytes, from the chunk at
     * {@code offset}; not moved): like {@link #put} for each, except that the new ones that
     * compress are stored together, up to {@link #frameChunks()} per frame record. A repository
     * whose frames hold one chunk stores each in a record of its own, exactly as {@link #put}.
     */
    public RunOutcome putRun(long offset, ByteBuffer run) throws IOException {
        owner.enter();
        try {
            return storeRun(offset, run);
        } finally {
            owner.exit();
        }
    }

    /** The most chunks one frame holds in this repository (1: frames are off). */
    public int frameChunks() {
        return ctx.frameSize() / chunkSize;
    }

    private RunOutcome storeRun(long offset, ByteBuffer run) throws IOException {
        owner.checkOpen();
        long first = indexOf(offset);
        long end = endIndex(offset, run.remaining());
        if ((end - first - 1) * chunkSize + length(end - 1) != run.remaining()) {
            throw new IllegalArgumentException("run at offset " + offset + " of " + run.remaining() + " bytes does not end at a chunk end");
        }
        int zeroChunks = 0;
        int duplicateChunks = 0;
        int newChunkCount = 0;
        long zero = 0;
        long duplicate = 0;
        long fresh = 0;
        long storedBytes = 0;
        ChunkCodec codec = ctx.codecs().borrow();
        sink.beginWork();
        try {
            int perFrame = frameChunks();
            for (long group = first; group < end; group += perFrame) {
                List<ChunkId> ids = new ArrayList<>(perFrame);
                List<ByteBuffer> plains = new ArrayList<>(perFrame);
                List<Long> indexes = new ArrayList<>(perFrame);
                List<ChunkId> previous = new ArrayList<>(perFrame);
                List<Supplier<ChunkId>> previousVersions = new ArrayList<>(perFrame);
                for (long i = group; i < Math.min(end, group + perFrame); i++) {
                    int at = run.position() + (int) ((i - first) * chunkSize);
                    ByteBuffer chunk = run.slice(at, length(i));
                    if (codec.isZero(chunk)) {
                        staged.set(i, null);
                        zero += chunk.remaining();
                        zeroChunks++;
                        continue;
                    }
                    ChunkId id = codec.digest(chunk);
                    digested.set((int) (i & 255), new Digested(i, id));
                    Digested before = i == 0 ? null : digested.get((int) ((i - 1) & 255));
                    long at2 = i;
                    ids.add(id);
                    plains.add(chunk);
                    indexes.add(i);
                    previous.add(before != null && before.index() == i - 1 ? before.id() : null);
                    previousVersions.add(() -> previousVersion(at2));
                }
                if (ids.isEmpty()) {
                    continue;
                }
                long[] stored = sink.storeFrame(ids, plains, previous, previousVersions, codec, ctx.frameSize());
                for (int k = 0; k < ids.size(); k++) {
                    staged.set(indexes.get(k), ids.get(k));
                    if (stored[k] >= 0) {
                        newChunks.increment();
                        newStoredBytes.add(stored[k]);
                        fresh += plains.get(k).remaining();
                        storedBytes += stored[k];
                        newChunkCount++;
                    } else {
                        duplicate += plains.get(k).remaining();
                        duplicateChunks++;
                    }
                }
            }
            return new RunOutcome(zeroChunks, zero, duplicateChunks, duplicate, newChunkCount, fresh, storedBytes);
        } catch (IOException | RuntimeException e) {
            sink.fail(e);
            throw e;
        } finally {
            sink.endWork();
            ctx.codecs().release(codec);
        }
    }

    /** Marks the chunk at {@code offset} as all zeros (a hole or a known-zero extent). */
    public void putZero(long offset) throws IOException {
        owner.enter();
        try {
            owner.checkOpen();
            staged.set(indexOf(offset), null);
        } finally {
            owner.exit();
        }
    }

    /** Marks every chunk of [offset, offset+length) as zero. */
    public void putZeros(long offset, long length) throws IOException {
        owner.enter();
        try {
            owner.checkOpen();
            long first = indexOf(offset);
            staged.setZeros(first, endIndex(offset, length) - first);
        } finally {
            owner.exit();
        }
    }

    /**
     * Takes the entries of [offset, offset+length) from the parent backup's manifest of this
     * disk: the unchanged areas of an incremental. The range must be chunk-aligned (or end at the
     * capacity) and lie within the parent's disk with the same chunk lengths.
     */
    public void reuse(long offset, long length) throws IOException {
        owner.enter();
        try {
            copyFromParent(offset, length);
        } finally {
            owner.exit();
        }
    }

    private void copyFromParent(long offset, long length) throws IOException {
        owner.checkOpen();
        if (parent == null) {
            throw new IllegalStateException("disk " + spec.diskId() + " has no parent to reuse from");
        }
        long first = indexOf(offset);
        long end = endIndex(offset, length);
        if (end > parent.chunkCount() || (end == parent.chunkCount() && parent.chunkLength(end - 1) != length(end - 1))) {
            throw new IllegalArgumentException("range [" + offset + ", " + (offset + length) + ") is not within the parent's disk of "
                    + parent.capacity() + " bytes");
        }
        long i = first;
        while (i < end) {
            int segment = (int) (i / ManifestKeys.SEGMENT_ENTRIES);
            int from = (int) (i % ManifestKeys.SEGMENT_ENTRIES);
            int count = (int) Math.min(ManifestKeys.SEGMENT_ENTRIES - from, end - i);
            byte[] seg = parentSegment(segment);
            staged.setRun(i, seg, from, count);
            i += count;
        }
    }

    /** The parent's chunk at index {@code i}, or null (no parent, a zero chunk there, or past its end). */
    private ChunkId previousVersion(long i) {
        if (parent == null || i >= parent.chunkCount()) {
            return null;
        }
        byte[] seg = parentSegment((int) (i / ManifestKeys.SEGMENT_ENTRIES));
        int at = (int) (i % ManifestKeys.SEGMENT_ENTRIES) * ManifestKeys.ENTRY;
        return ChunkId.isZeroMarker(seg, at) ? null : ChunkId.copyOf(seg, at);
    }

    /** The pipeline reuses many short runs in offset order: keep the last parent segment read. */
    private byte[] parentSegment(int segment) {
        CachedSegment c = lastParentSegment;
        if (c == null || c.segment() != segment) {
            c = new CachedSegment(segment, parentManifests.segment(parentId, parent, segment));
            lastParentSegment = c;
        }
        return c.bytes();
    }

    private record CachedSegment(int segment, byte[] bytes) {
    }

    private long indexOf(long offset) {
        if (offset < 0 || offset >= spec.capacity() || offset % chunkSize != 0) {
            throw new IllegalArgumentException("offset " + offset + " is not a chunk boundary inside the disk (capacity "
                    + spec.capacity() + ", chunk size " + chunkSize + ")");
        }
        return offset / chunkSize;
    }

    private long endIndex(long offset, long length) {
        long end = offset + length;
        if (length <= 0 || end > spec.capacity() || (end % chunkSize != 0 && end != spec.capacity())) {
            throw new IllegalArgumentException("range [" + offset + ", " + end + ") must end on a chunk boundary or at the capacity");
        }
        return DiskRecord.chunkCount(end, chunkSize);
    }

    private int length(long i) {
        return (int) Math.min(chunkSize, spec.capacity() - i * chunkSize);
    }

    int index() {
        return index;
    }

    StagedManifest staged() {
        return staged;
    }

    DiskRecord record(long zeroChunks) {
        return new DiskRecord(index, spec.diskId(), spec.capacity(), chunkSize, spec.changeId(), chunkCount - zeroChunks,
                zeroChunks, newChunks.sum(), newStoredBytes.sum());
    }
}
