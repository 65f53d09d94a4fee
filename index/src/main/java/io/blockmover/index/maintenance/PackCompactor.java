package io.blockmover.index.maintenance;

import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.FrameCodec;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.FrameTable;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.backup.ChunkReads;
import io.blockmover.index.pack.PackWriter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.Lock;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

/**
 * Rewrites sparse packs: their live records are checked in full, copied into new sealed packs,
 * and each index entry is repointed only if it still holds the old location, so a writer's
 * fresh copy of a condemned chunk always wins.
 */
final class PackCompactor {
    private final RepoContext ctx;

    PackCompactor(RepoContext ctx) {
        this.ctx = ctx;
    }

    /**
     * Copies the live records of {@code victims} into new packs and repoints their index entries;
     * returns the victims left with no entry (to delete once older readers are gone).
     */
    List<Long> compact(Set<Long> victims) throws IOException {
        Set<Long> keep = new HashSet<>(); // victims with a damaged live record stay for verify to report
        Copy out = null;
        ChunkCodec codec = ctx.codecs().borrow();
        ByteBuffer check = ByteBuffer.allocateDirect(ctx.chunkSize());
        // The victims' live framed chunks, by frame: a frame is moved once, whole or re-encoded.
        Map<List<Long>, List<Live>> frames = new LinkedHashMap<>();
        try (RocksIterator it = ctx.db().iterator(ctx.db().chunks())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] v = it.value();
                if (!ChunkLocation.isEncodedLength(v.length)) {
                    continue;
                }
                ChunkLocation loc;
                try {
                    loc = ChunkLocation.decode(v, v.length);
                } catch (IllegalArgumentException e) {
                    continue; // malformed: verify reports it
                }
                if (!victims.contains(loc.packId())) {
                    continue;
                }
                ChunkId id = ChunkId.wrap(it.key());
                if (loc.framed()) {
                    frames.computeIfAbsent(List.of(loc.packId(), loc.offset()), k -> new ArrayList<>()).add(new Live(id, v, loc));
                    continue;
                }
                ByteBuffer rec = codec.recordBuffer().limit(loc.recordLength());
                try {
                    if (ctx.packs().read(loc.packId(), loc.offset(), rec) < loc.recordLength()) {
                        throw new ChunkDamagedException(id.hex(), "truncated");
                    }
                    rec.flip();
                    ChunkReads.checkRecord(codec, id, rec, check.clear());
                } catch (ChunkDamagedException e) {
                    keep.add(loc.packId());
                    continue;
                }
                if (out == null) {
                    out = new Copy();
                }
                out.append(id, v, rec);
                if (out.pack.size() >= ctx.packTargetSize()) {
                    out.publish();
                    out = null;
                }
            }
            // Before any victim is called empty: one whose live records were not all seen must stay.
            IndexDb.checkScan(it, "gc's compaction");
            for (List<Live> group : frames.values()) {
                if (out == null) {
                    out = new Copy();
                }
                if (!moveFrame(group, out, codec)) {
                    keep.add(group.getFirst().loc().packId());
                }
                if (out.pack.size() >= ctx.packTargetSize()) {
                    out.publish();
                    out = null;
                }
            }
            if (out != null) {
                out.publish();
            }
        } finally {
            ctx.codecs().release(codec);
        }
        List<Long> emptied = new ArrayList<>();
        for (long p : victims) {
            if (!keep.contains(p)) {
                emptied.add(p);
            }
        }
        return emptied;
    }

    /** A live chunk of a frame in a victim pack, with its index value as read. */
    private record Live(ChunkId id, byte[] value, ChunkLocation loc) {
    }

    /**
     * Moves a frame's live chunks into {@code out}: the record copied whole when every chunk of
     * it is live, else only the live chunks, re-encoded as a new frame (or a record of its own
     * when one is left), so a partly dead frame leaves its dead chunks behind and no frame's dead
     * space outlives a compaction of its pack. Every live chunk is checked first (frame CRC, tag,
     * decompression, digest); returns false, moving nothing, when one is damaged.
     */
    private boolean moveFrame(List<Live> group, Copy out, ChunkCodec codec) throws IOException {
        Live first = group.getFirst();
        FrameCodec frames = codec.frames();
        PackRecords.FramePayload frame;
        byte[] plain;
        try {
            ByteBuffer rec = frames.recordBuffer(first.loc().recordLength());
            frame = PackRecords.readFrame(ctx.packs(), first.loc(), first.id(), rec, false);
            plain = frames.decodeToArray(frame, frame.table().plainLength(), first.id().hex());
            for (Live l : group) {
                int slot = frame.table().slotOf(l.id(), l.loc().frameOffset());
                if (slot < 0 || frame.table().length(slot) != l.loc().plainLength()
                        || !codec.digest(ByteBuffer.wrap(plain, l.loc().frameOffset(), l.loc().plainLength())).equals(l.id())) {
                    return false;
                }
            }
            FrameTable table = frame.table();
            if (group.size() == table.count()) {
                List<byte[]> old = new ArrayList<>();
                for (int slot = 0; slot < table.count(); slot++) {
                    int at = table.offset(slot);
                    old.add(group.stream().filter(l -> l.loc().frameOffset() == at).findFirst().orElseThrow().value());
                }
                rec.position(0);
                out.appendFrame(table, PackRecords.split(rec), old);
                return true;
            }
        } catch (ChunkDamagedException e) {
            return false;
        }
        List<Live> live = new ArrayList<>(group);
        live.sort(java.util.Comparator.comparingInt(l -> l.loc().frameOffset()));
        if (live.size() == 1) {
            Live l = live.getFirst();
            ByteBuffer chunk = ByteBuffer.wrap(plain, l.loc().frameOffset(), l.loc().plainLength());
            out.append(l.id(), l.value(), PackRecords.frameChunk(l.id(), codec.encode(l.id(), chunk)));
            return true;
        }
        frames.begin(plain.length);
        List<byte[]> old = new ArrayList<>();
        for (Live l : live) {
            frames.add(l.id(), ByteBuffer.wrap(plain, l.loc().frameOffset(), l.loc().plainLength()));
            old.add(l.value());
        }
        FrameCodec.Encoded e = frames.finish(false);
        out.appendFrame(e.table(), PackRecords.frame(e.table(), e.flags(), e.body()), old);
        return true;
    }

    /** One new pack of compacted records, with the locations its entries had before. */
    private final class Copy {
        final PackWriter pack;
        final List<byte[]> oldValues = new ArrayList<>();

        Copy() throws IOException {
            long id = ctx.newPackId();
            ctx.packsInProgress().started(id);
            try {
                pack = PackWriter.create(ctx.packs(), id);
            } catch (IOException | RuntimeException e) {
                ctx.packsInProgress().settled(id);
                throw e;
            }
        }

        void append(ChunkId id, byte[] oldValue, ByteBuffer rec) throws IOException {
            append(id, oldValue, PackRecords.split(rec));
        }

        void append(ChunkId id, byte[] oldValue, ByteBuffer[] record) throws IOException {
            pack.append(id, record);
            oldValues.add(oldValue);
        }

        /** A frame record; {@code old} holds its chunks' old index values in table order. */
        void appendFrame(FrameTable table, ByteBuffer[] record, List<byte[]> old) throws IOException {
            pack.appendFrame(table, record);
            oldValues.addAll(old);
        }

        /**
         * Seals the pack, then repoints each entry that still holds its old location. An entry a
         * writer changed meanwhile (a fresh copy of a condemned chunk) keeps the writer's location;
         * its copy here is dead weight for the next gc.
         */
        void publish() throws IOException {
            try {
                List<PackWriter.Entry> entries = pack.seal();
                Lock rewriting = ctx.fence().rewriting();
                rewriting.lock();
                try (WriteBatch batch = new WriteBatch()) {
                    for (int i = 0; i < entries.size(); i++) {
                        PackWriter.Entry e = entries.get(i);
                        if (Arrays.equals(ctx.db().get(ctx.db().chunks(), e.id().bytes()), oldValues.get(i))) {
                            batch.put(ctx.db().chunks(), e.id().bytes(), e.location().encode());
                        }
                    }
                    ctx.db().write(batch, true);
                } catch (RocksDBException e) {
                    throw new RepositoryException("gc cannot repoint chunks: " + e.getMessage(), e);
                } finally {
                    rewriting.unlock();
                }
            } finally {
                ctx.packsInProgress().settled(pack.packId());
            }
        }
    }
}
