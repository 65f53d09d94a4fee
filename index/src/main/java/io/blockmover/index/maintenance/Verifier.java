package io.blockmover.index.maintenance;

import io.blockmover.index.backup.RepositoryPeers;
import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.FrameCodec;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.db.IndexSnapshot;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.ManifestKeys;
import io.blockmover.index.manifest.ManifestStore;
import io.blockmover.index.backup.ChunkReads;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.internal.RepoInternals;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.RocksIterator;

/**
 * Re-reads every indexed chunk (header CRC, payload CRC, GCM tag, decompression, digest of the
 * plaintext) on several threads, then walks every manifest to name, for each damaged or missing
 * chunk, the backups, disks and offsets that use it. Memory: the damaged set plus one chunk
 * buffer per thread.
 */
public final class Verifier {
    private final RepoContext ctx;

    public Verifier(Repository repo) {
        this.ctx = RepoInternals.context(repo);
    }

    public VerifyReport run(int threads) throws IOException {
        try (RepositoryPeers.Lease lease = ctx.peers().shared("verify")) {
            if (!ctx.readOnly()) {
                ctx.peers().refresh();
            }
            return verify(threads);
        }
    }

    private VerifyReport verify(int threads) throws IOException {
        long stamp = ctx.gate().enterShared();
        // Like a restore: a reader ticket, then the index frozen, so gc and prune running meanwhile
        // neither delete a pack under it nor make it report a chunk they removed as missing.
        long ticket = ctx.readers().enter();
        try (IndexSnapshot index = IndexSnapshot.of(ctx.db(), ctx.readOnly())) {
            Map<ChunkId, String> damaged = new ConcurrentHashMap<>();
            AtomicLong checked = new AtomicLong();
            AtomicLong bytes = new AtomicLong();
            checkChunks(index, Math.max(1, threads), damaged, checked, bytes);
            Map<ChunkId, List<ChunkRef>> users = new LinkedHashMap<>();
            List<String> manifestProblems = new ArrayList<>();
            Set<Long> broken = new TreeSet<>();
            ManifestStore manifests = new ManifestStore(index);
            for (BackupRecord b : manifests.backups()) {
                for (DiskRecord d : b.disks()) {
                    checkManifest(index, manifests, b, d, damaged, users, manifestProblems, broken);
                }
            }
            List<DamagedChunk> out = new ArrayList<>();
            for (Map.Entry<ChunkId, String> e : damaged.entrySet()) {
                out.add(new DamagedChunk(e.getKey().hex(), e.getValue(), users.getOrDefault(e.getKey(), List.of())));
            }
            out.sort(java.util.Comparator.comparing(DamagedChunk::chunkId));
            return new VerifyReport(checked.get(), bytes.get(), out, manifestProblems, broken);
        } finally {
            ctx.readers().exit(ticket);
            ctx.gate().exitShared(stamp);
        }
    }

    private void checkChunks(IndexSnapshot index, int threads, Map<ChunkId, String> damaged, AtomicLong checked, AtomicLong bytes) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(threads, Thread.ofPlatform().name("verify-", 0).daemon().factory());
        Semaphore inFlight = new Semaphore(threads * 2);
        ConcurrentLinkedQueue<ByteBuffer> buffers = new ConcurrentLinkedQueue<>();
        FrameGroups frames = new FrameGroups();
        try (RocksIterator it = index.iterator(ctx.db().chunks())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] key = it.key();
                byte[] value = it.value();
                if (key.length != ChunkId.LENGTH) {
                    continue; // not a chunk key; nothing uses it
                }
                ChunkId id = ChunkId.wrap(key);
                if (frames.add(id, value)) {
                    if (frames.size() >= FrameGroups.LIMIT) {
                        submitFrames(pool, inFlight, frames, damaged, checked, bytes);
                    }
                    continue;
                }
                inFlight.acquireUninterruptibly();
                pool.execute(() -> {
                    ByteBuffer dst = buffers.poll();
                    if (dst == null) {
                        dst = ByteBuffer.allocateDirect(ctx.chunkSize());
                    }
                    try {
                        String problem = check(index, id, value, dst.clear());
                        if (problem != null) {
                            damaged.put(id, problem);
                        } else {
                            bytes.addAndGet(dst.position());
                        }
                        checked.incrementAndGet();
                    } finally {
                        buffers.add(dst);
                        inFlight.release();
                    }
                });
            }
            // A verify that stopped early must not report the chunks it never reached as sound.
            IndexDb.checkScan(it, "verify's scan of the chunk index");
            submitFrames(pool, inFlight, frames, damaged, checked, bytes);
        } finally {
            pool.shutdown();
            try {
                pool.awaitTermination(365, TimeUnit.DAYS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RepositoryException("verify interrupted");
            }
        }
    }

    /**
     * Framed entries met by the scan, grouped by frame, so that each frame is read and decoded
     * once for all its chunks instead of once per chunk (the scan goes in chunk id order, which
     * scatters a frame's chunks). At most {@value #LIMIT} entries are held: past that the groups
     * are verified and dropped, and a frame whose later chunks come afterwards is decoded again.
     */
    private static final class FrameGroups {
        static final int LIMIT = 1 << 16;
        private Map<Long, Map<Long, List<Framed>>> byPack = new HashMap<>();
        private int size;

        /** Takes the entry if it is framed; false for any other (checked on its own). */
        boolean add(ChunkId id, byte[] value) {
            if (value.length != ChunkLocation.ENCODED_FRAMED) {
                return false;
            }
            ChunkLocation loc;
            try {
                loc = ChunkLocation.decode(value, value.length);
            } catch (IllegalArgumentException e) {
                return false; // malformed: the single check reports it
            }
            byPack.computeIfAbsent(loc.packId(), p -> new HashMap<>()).computeIfAbsent(loc.offset(), o -> new ArrayList<>())
                    .add(new Framed(id, loc));
            size++;
            return true;
        }

        int size() {
            return size;
        }

        List<List<Framed>> drain() {
            List<List<Framed>> out = new ArrayList<>();
            byPack.values().forEach(records -> out.addAll(records.values()));
            byPack = new HashMap<>();
            size = 0;
            return out;
        }
    }

    private record Framed(ChunkId id, ChunkLocation loc) {
    }

    private void submitFrames(ExecutorService pool, Semaphore inFlight, FrameGroups frames, Map<ChunkId, String> damaged,
                              AtomicLong checked, AtomicLong bytes) {
        for (List<Framed> group : frames.drain()) {
            inFlight.acquireUninterruptibly();
            pool.execute(() -> {
                try {
                    checkFrame(group, damaged, bytes);
                    checked.addAndGet(group.size());
                } finally {
                    inFlight.release();
                }
            });
        }
    }

    /**
     * Reads and decodes one frame and checks every chunk the group names in it; a frame that
     * cannot be read or decoded is the damage of exactly those chunks.
     */
    private void checkFrame(List<Framed> group, Map<ChunkId, String> damaged, AtomicLong bytes) {
        ChunkCodec codec = ctx.codecs().borrow();
        try {
            Framed first = group.getFirst();
            byte[] plain;
            PackRecords.FramePayload frame;
            try {
                FrameCodec frames = codec.frames();
                frame = PackRecords.readFrame(ctx.packs(), first.loc(), first.id(), frames.recordBuffer(first.loc().recordLength()), false);
                plain = frames.decodeToArray(frame, frame.table().plainLength(), first.id().hex());
            } catch (ChunkDamagedException e) {
                group.forEach(g -> damaged.put(g.id(), e.reason()));
                return;
            } catch (IOException e) {
                String why = "pack " + Long.toHexString(first.loc().packId()) + " cannot be read: " + e.getMessage();
                group.forEach(g -> damaged.put(g.id(), why));
                return;
            }
            for (Framed g : group) {
                ChunkLocation loc = g.loc();
                int slot = frame.table().slotOf(g.id(), loc.frameOffset());
                if (slot < 0 || frame.table().length(slot) != loc.plainLength() || loc.framePlainLength() != plain.length) {
                    damaged.put(g.id(), "index entry disagrees with its frame's table");
                } else if (!codec.digest(ByteBuffer.wrap(plain, loc.frameOffset(), loc.plainLength())).equals(g.id())) {
                    damaged.put(g.id(), "content does not match its digest");
                } else {
                    bytes.addAndGet(loc.plainLength());
                }
            }
        } finally {
            ctx.codecs().release(codec);
        }
    }

    /** Returns null when the chunk reads back exactly, else why not. */
    private String check(IndexSnapshot index, ChunkId id, byte[] value, ByteBuffer dst) {
        ChunkLocation loc;
        try {
            loc = ChunkLocation.decode(value, value.length);
        } catch (IllegalArgumentException e) {
            return "index entry is malformed: " + e.getMessage();
        }
        ChunkCodec codec = ctx.codecs().borrow();
        try {
            // A recipe is checked whole: its body, each source it refers to, the digest of the reassembly.
            ChunkReads.read(ctx, codec, index::location, id, loc, dst, false);
            return null;
        } catch (ChunkDamagedException e) {
            return e.reason();
        } catch (IOException e) {
            return "pack " + Long.toHexString(loc.packId()) + " cannot be read: " + e.getMessage();
        } finally {
            ctx.codecs().release(codec);
        }
    }

    private void checkManifest(IndexSnapshot index, ManifestStore manifests, BackupRecord b, DiskRecord d, Map<ChunkId, String> damaged, Map<ChunkId, List<ChunkRef>> users,
                               List<String> manifestProblems, Set<Long> broken) {
        byte[] scratch = new byte[ChunkLocation.ENCODED];
        for (int s = 0; s < d.segments(); s++) {
            byte[] seg;
            try {
                seg = manifests.segment(b.id(), d, s);
            } catch (RepositoryException e) {
                manifestProblems.add(e.getMessage());
                broken.add(b.id());
                continue;
            }
            for (int at = 0; at < seg.length; at += ManifestKeys.ENTRY) {
                if (ChunkId.isZeroMarker(seg, at)) {
                    continue;
                }
                ChunkId id = ChunkId.copyOf(seg, at);
                if (!damaged.containsKey(id) && !index.contains(id, scratch)) {
                    damaged.put(id, "missing from the index");
                }
                if (damaged.containsKey(id)) {
                    long offset = ((long) s * ManifestKeys.SEGMENT_ENTRIES + at / ManifestKeys.ENTRY) * d.chunkSize();
                    users.computeIfAbsent(id, k -> new ArrayList<>()).add(new ChunkRef(b.id(), b.vmId(), d.diskId(), offset));
                    broken.add(b.id());
                }
            }
        }
    }
}
