package io.blockmover.index.maintenance;

import io.blockmover.index.backup.SubchunkEntries;
import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.ChunkKeys;
import io.blockmover.index.chunk.KeyWrap;
import io.blockmover.index.chunk.Recipe;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.repo.Encryption;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.FrameTable;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.ManifestKeys;
import io.blockmover.index.manifest.ManifestStore;
import io.blockmover.index.pack.LocalPackStore;
import io.blockmover.index.pack.PackStore;
import io.blockmover.index.repo.RepositoryConfig;
import io.blockmover.index.repo.RepositoryLock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a new index from the packs alone: every record whose header and payload CRCs hold is
 * indexed (chunks by digest; manifest segments and backup records from each backup's manifest
 * pack). A backup is recovered only if its manifest pack is complete. The new index replaces the
 * old one, which is kept beside it as {@code index.old-<millis>}. Needs no passphrase: records
 * carry their (keyed) digests in clear headers and are checked by CRC, and a recipe its sources in
 * the clear. With sub-chunk dedup, the fingerprint index is refilled from every plain chunk's
 * plaintext; in an encrypted repository that needs the passphrase (without it, only chunks
 * stored from then on are found again: a loss of dedup, never of data).
 */
public final class IndexRebuilder {
    private static final Logger log = LoggerFactory.getLogger(IndexRebuilder.class);
    private static final int BATCH = 16 << 10;

    private IndexRebuilder() {
    }

    public static RebuildReport rebuild(Path root) throws IOException {
        return rebuild(root, null);
    }

    /** {@code passphrase}: of an encrypted repository, to refill its keyed fingerprint index; may be null. */
    public static RebuildReport rebuild(Path root, char[] passphrase) throws IOException {
        RepositoryConfig config = RepositoryConfig.readRebuildable(root);
        ChunkCodec codec = fingerprintCodec(config, passphrase);
        try (RepositoryLock lock = RepositoryLock.acquire(root)) {
            Path fresh = root.resolve("index.rebuild");
            deleteTree(fresh);
            RebuildReport report;
            try (IndexDb db = IndexDb.open(fresh, config.rebuiltVersion(), false, config.subchunkDedup()); PackStore packs = new LocalPackStore(root.resolve("packs"))) {
                report = new Scan(db, packs, codec).run();
            } finally {
                if (codec != null) {
                    codec.close();
                }
            }
            Path index = root.resolve("index");
            if (Files.exists(index)) {
                Files.move(index, root.resolve("index.old-" + System.currentTimeMillis()));
            }
            Files.move(fresh, index);
            try (FileChannel ch = FileChannel.open(root, StandardOpenOption.READ)) {
                ch.force(true);
            }
            if (config.formatVersion() != config.rebuiltVersion()) {
                // Only now: a crash before this leaves the old version in config, and rebuild runs again.
                config.upgraded().write(root);
                log.info("rebuild-index: repository format {} upgraded to {}", config.formatVersion(), config.rebuiltVersion());
            }
            log.info("rebuild-index: {}", report);
            return report;
        }
    }

    /** A codec that can decode chunks to fingerprint them, or null when there is nothing to fingerprint or no key. */
    private static ChunkCodec fingerprintCodec(RepositoryConfig config, char[] passphrase) {
        if (!config.subchunkDedup()) {
            return null;
        }
        ChunkKeys keys = null;
        if (config.encryption() instanceof Encryption.AesGcm a) {
            if (passphrase == null) {
                log.warn("rebuild-index: no passphrase, so the keyed fingerprint index of sub-chunk dedup stays empty; chunks"
                        + " stored from now on fill it again");
                return null;
            }
            keys = ChunkKeys.fromMaterial(KeyWrap.unwrap(passphrase, a.salt(), a.iterations(), a.wrappedKey(), config.repoId()));
        }
        return new ChunkCodec(config.chunkSize(), config.compression(), keys);
    }

    /**
     * Scans every pack of {@code packs} into {@code db}, a new, empty index of
     * {@code config.rebuiltVersion()}: what {@link #rebuild} does for a local repository, for a
     * caller that keeps its packs elsewhere (a bucket) and places the index itself.
     */
    public static RebuildReport scan(IndexDb db, PackStore packs, RepositoryConfig config, char[] passphrase) throws IOException {
        ChunkCodec codec = fingerprintCodec(config, passphrase);
        try {
            return new Scan(db, packs, codec).run();
        } finally {
            if (codec != null) {
                codec.close();
            }
        }
    }

    private static final class Scan {
        private final IndexDb db;
        private final PackStore packs;
        /** Decodes plain chunks to refill the fingerprint index; null: none to refill. */
        private final ChunkCodec codec;
        private final ByteBuffer plain;
        private final List<String> problems = new ArrayList<>();
        private final Map<Long, Set<Long>> segmentsFound = new HashMap<>();
        private final Map<Long, BackupRecord> backups = new HashMap<>();
        private final Map<Long, Long> backupPack = new HashMap<>();
        private final ByteBuffer header = ByteBuffer.allocateDirect(PackFormat.RECORD_HEADER);
        private final ByteBuffer payload = ByteBuffer.allocateDirect(PackFormat.MAX_PAYLOAD);
        private WriteBatch batch = new WriteBatch();
        /**
         * Recipe records, indexed only once every pack is scanned: a chunk can have a plain copy and
         * a recipe copy (a backup killed after it stored the recipe, then its rerun, or a fresh copy
         * of a chunk gc had condemned), and other recipes may use it as a source, which must be plain.
         */
        private final List<FoundRecipe> recipes = new ArrayList<>();
        private long chunks;
        private long damaged;

        private record FoundRecipe(ChunkId id, ChunkLocation location, List<ChunkId> sources) {
        }

        Scan(IndexDb db, PackStore packs, ChunkCodec codec) {
            this.db = db;
            this.packs = packs;
            this.codec = codec;
            this.plain = codec == null ? null : ByteBuffer.allocateDirect(codec.chunkSize());
        }

        RebuildReport run() throws IOException {
            int scanned = 0;
            try {
                for (PackStore.PackInfo p : packs.list()) {
                    scanPack(p);
                    scanned++;
                }
                indexRecipes();
                int recovered = 0;
                for (BackupRecord b : backups.values()) {
                    if (complete(b)) {
                        batch.put(db.catalog(), ManifestKeys.catalogKey(b.id()), b.encode());
                        recovered++;
                    } else {
                        problems.add("backup " + b.id() + " of " + b.vmId() + ": manifest incomplete, not recovered");
                        batch.deleteRange(db.manifests(), ManifestKeys.manifestKey(b.id(), 0, 0), ManifestKeys.manifestKey(b.id() + 1, 0, 0));
                    }
                }
                db.write(batch, true);
                if (db.hasSubchunks()) {
                    linkSuccessors();
                }
                return new RebuildReport(scanned, chunks, damaged, recovered, problems);
            } catch (RocksDBException e) {
                throw new RepositoryException("rebuild-index cannot write the new index: " + e.getMessage(), e);
            } finally {
                batch.close();
            }
        }

        private boolean complete(BackupRecord b) {
            Set<Long> found = segmentsFound.getOrDefault(b.id(), Set.of());
            if (b.manifestPack() != backupPack.get(b.id())) {
                return false;
            }
            for (DiskRecord d : b.disks()) {
                for (int s = 0; s < d.segments(); s++) {
                    if (!found.contains(((long) d.index() << 32) | s)) {
                        return false;
                    }
                }
            }
            return true;
        }

        private void scanPack(PackStore.PackInfo p) throws IOException, RocksDBException {
            String name = Long.toHexString(p.packId());
            ByteBuffer fileHeader = ByteBuffer.allocate(PackFormat.FILE_HEADER);
            if (packs.read(p.packId(), 0, fileHeader) < PackFormat.FILE_HEADER) {
                problems.add("pack " + name + ": shorter than a pack header, skipped");
                return;
            }
            try {
                long id = PackFormat.readFileHeader(fileHeader.flip());
                if (id != p.packId()) {
                    problems.add("pack " + name + ": header names pack " + Long.toHexString(id) + ", skipped");
                    return;
                }
            } catch (IllegalArgumentException e) {
                problems.add("pack " + name + ": " + e.getMessage() + ", skipped");
                return;
            }
            long pos = PackFormat.FILE_HEADER;
            while (pos < p.size()) {
                header.clear();
                if (packs.read(p.packId(), pos, header) < 4) {
                    break;
                }
                header.flip();
                if (header.getInt(0) == PackFormat.FOOTER_MAGIC) {
                    return;
                }
                if (header.remaining() < PackFormat.RECORD_HEADER || header.getInt(0) != PackFormat.RECORD_MAGIC
                        || header.getInt(PackFormat.H_HEADER_CRC) != PackFormat.crc(header, 0, PackFormat.H_HEADER_CRC)) {
                    problems.add("pack " + name + ": damaged or truncated record header at offset " + pos + "; the rest is skipped");
                    damaged++;
                    return;
                }
                int length = header.getInt(PackFormat.H_PAYLOAD);
                if (length < 0 || length > PackFormat.MAX_PAYLOAD) {
                    problems.add("pack " + name + ": impossible record length at offset " + pos + "; the rest is skipped");
                    damaged++;
                    return;
                }
                payload.clear().limit(length);
                int n = packs.read(p.packId(), pos + PackFormat.RECORD_HEADER, payload);
                if (n < length || PackFormat.crc(payload.flip(), 0, length) != header.getInt(PackFormat.H_PAYLOAD_CRC)) {
                    problems.add("pack " + name + ": record at offset " + pos + " is damaged, skipped");
                    damaged++;
                } else {
                    record(p.packId(), pos, length);
                }
                pos += PackFormat.RECORD_HEADER + length;
            }
        }

        private void record(long packId, long pos, int length) throws RocksDBException {
            byte[] key = new byte[32];
            header.get(PackFormat.H_DIGEST, key);
            switch (header.get(PackFormat.H_KIND)) {
                case PackFormat.KIND_CHUNK -> {
                    // Any intact plain copy serves; a later duplicate simply replaces an earlier one.
                    ChunkLocation loc = new ChunkLocation(packId, pos, length, header.getInt(PackFormat.H_PLAIN), header.get(PackFormat.H_FLAGS) & 0xFF);
                    if ((loc.flags() & PackFormat.FLAG_RECIPE) != 0) {
                        foundRecipe(ChunkId.wrap(key), loc);
                        break;
                    }
                    batch.put(db.chunks(), key, loc.encode());
                    chunks++;
                    if (db.hasSubchunks()) {
                        subchunkEntries(ChunkId.wrap(key), loc);
                    }
                }
                case PackFormat.KIND_FRAME -> {
                    // The payload CRC held, so the table is as written; each chunk gets its place in the frame.
                    FrameTable table;
                    try {
                        table = FrameTable.decode(payload.duplicate().position(0).limit(length), header.getInt(PackFormat.H_PLAIN));
                    } catch (IllegalArgumentException e) {
                        problems.add("pack " + Long.toHexString(packId) + ": frame at offset " + pos + " has a bad table: " + e.getMessage());
                        damaged++;
                        break;
                    }
                    int flags = header.get(PackFormat.H_FLAGS) & 0xFF;
                    for (int i = 0, at = 0; i < table.count(); at += table.length(i), i++) {
                        ChunkLocation loc = new ChunkLocation(packId, pos, length, table.length(i), flags, at, table.plainLength());
                        batch.put(db.chunks(), table.id(i).bytes(), loc.encode());
                        chunks++;
                    }
                    frameSubchunkEntries(table, flags, length);
                }
                case PackFormat.KIND_MANIFEST -> {
                    ByteBuffer k = ByteBuffer.wrap(key);
                    long backup = k.getLong(0);
                    int disk = k.getShort(8) & 0xFFFF;
                    int segment = k.getInt(10);
                    byte[] v = new byte[length];
                    payload.get(0, v);
                    batch.put(db.manifests(), ManifestKeys.manifestKey(backup, disk, segment), v);
                    segmentsFound.computeIfAbsent(backup, b -> new HashSet<>()).add(((long) disk << 32) | segment);
                }
                case PackFormat.KIND_BACKUP -> {
                    byte[] v = new byte[length];
                    payload.get(0, v);
                    try {
                        BackupRecord b = BackupRecord.decode(v);
                        backups.put(b.id(), b);
                        backupPack.put(b.id(), packId);
                    } catch (IllegalArgumentException e) {
                        problems.add("pack " + Long.toHexString(packId) + ": unreadable backup record: " + e.getMessage());
                    }
                }
                default -> problems.add("pack " + Long.toHexString(packId) + ": unknown record kind at offset " + pos);
            }
            if (batch.count() >= BATCH) {
                db.write(batch, false);
                batch.close();
                batch = new WriteBatch();
            }
        }

        /** The successor links of sub-chunk dedup, from the recovered manifests: each plain chunk follows the chunk before it. */
        private void linkSuccessors() throws RocksDBException {
            ManifestStore manifests = new ManifestStore(db);
            WriteBatch links = new WriteBatch();
            try {
                for (BackupRecord b : manifests.backups()) {
                    for (DiskRecord d : b.disks()) {
                        byte[] previous = null;
                        for (int s = 0; s < d.segments(); s++) {
                            byte[] seg = manifests.segment(b.id(), d, s);
                            for (int at = 0; at < seg.length; at += ManifestKeys.ENTRY) {
                                if (ChunkId.isZeroMarker(seg, at)) {
                                    previous = null;
                                    continue;
                                }
                                ChunkId id = ChunkId.copyOf(seg, at);
                                ChunkLocation loc = db.location(id);
                                if (previous != null && loc != null && (loc.flags() & PackFormat.FLAG_RECIPE) == 0) {
                                    links.put(db.successors(), previous, id.bytes());
                                    if (links.count() >= BATCH) {
                                        db.write(links, false);
                                        links.close();
                                        links = new WriteBatch();
                                    }
                                }
                                previous = id.bytes();
                            }
                        }
                    }
                }
                db.write(links, true);
            } finally {
                links.close();
            }
        }

        /** The sub-chunk fingerprints of a frame's chunks (each checked against its digest first), when the codec is known. */
        private void frameSubchunkEntries(FrameTable table, int flags, int length) throws RocksDBException {
            if (codec == null) {
                return;
            }
            ByteBuffer p = payload.duplicate().position(0).limit(length);
            int t = table.encodedLength();
            String name = table.id(0).hex();
            try {
                byte[] plain = codec.frames().decodeToArray(new PackRecords.FramePayload(flags, table, p.slice(0, t), p.slice(t, length - t)),
                        table.plainLength(), name);
                for (int i = 0, at = 0; i < table.count(); at += table.length(i), i++) {
                    ByteBuffer chunk = ByteBuffer.wrap(plain, at, table.length(i));
                    if (!codec.digest(chunk).equals(table.id(i))) {
                        problems.add("chunk " + table.id(i).hex() + ": content does not match its digest");
                        continue;
                    }
                    SubchunkEntries.indexBlocks(db, batch, table.id(i), chunk, codec);
                }
            } catch (ChunkDamagedException e) {
                problems.add("frame of chunk " + name + ": " + e.reason());
            }
        }

        /** A plain chunk's sampled blocks (from its plaintext), when the codec is known. */
        private void subchunkEntries(ChunkId id, ChunkLocation loc) throws RocksDBException {
            if (codec == null) {
                return;
            }
            ByteBuffer p = payload.duplicate().position(0).limit(loc.payloadLength());
            try {
                codec.decode(new PackRecords.ChunkPayload(loc.flags(), loc.plainLength(), p), id, plain.clear());
                SubchunkEntries.indexBlocks(db, batch, id, plain.flip(), codec);
            } catch (ChunkDamagedException e) {
                problems.add("chunk " + id.hex() + ": " + e.reason());
            }
        }

        /** Keeps a recipe record (its sources are clear in its payload) for {@link #indexRecipes}. */
        private void foundRecipe(ChunkId id, ChunkLocation loc) {
            try {
                recipes.add(new FoundRecipe(id, loc, Recipe.decodeSources(payload.duplicate().position(0).limit(loc.payloadLength()), id.hex())));
            } catch (ChunkDamagedException e) {
                problems.add("chunk " + id.hex() + ": " + e.reason());
                damaged++;
            }
        }

        /**
         * Indexes each recipe whose chunk has no plain copy and whose sources all have one: a plain
         * copy serves every reader (and the recipes that use it as a source), and a recipe whose
         * source was never stored whole (its backup was killed first) cannot be read; indexed, it
         * would be taken for stored by the next backup of the same data.
         */
        private void indexRecipes() throws RocksDBException {
            db.write(batch, false);
            batch.close();
            batch = new WriteBatch();
            Set<ChunkId> indexed = new HashSet<>();
            long unreadable = 0;
            for (FoundRecipe r : recipes) {
                if (indexed.contains(r.id()) || db.location(r.id()) != null) {
                    continue;
                }
                ChunkId missing = r.sources().stream().filter(s -> !storedPlain(s)).findFirst().orElse(null);
                if (missing != null) {
                    // Not a problem of its own: a backup that needs this chunk is reported by verify, and a
                    // source lost to damage was reported as damage.
                    log.debug("rebuild-index: recipe {} left out: its source {} is not stored whole", r.id().hex(), missing.hex());
                    unreadable++;
                    continue;
                }
                batch.put(db.chunks(), r.id().bytes(), r.location().encode());
                if (db.hasSubchunks()) {
                    batch.put(db.recipes(), r.id().bytes(), SubchunkEntries.encodeSources(r.sources()));
                }
                indexed.add(r.id());
                chunks++;
            }
            if (unreadable > 0) {
                log.info("rebuild-index: {} recipes left out, a source of each not stored whole (a backup killed before it "
                        + "stored the source leaves such a recipe)", unreadable);
            }
        }

        private boolean storedPlain(ChunkId id) {
            ChunkLocation loc = db.location(id);
            return loc != null && (loc.flags() & PackFormat.FLAG_RECIPE) == 0;
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }
}
