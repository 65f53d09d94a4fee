package io.blockmover.index.s3;

import io.blockmover.index.db.IndexDb;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.ManifestKeys;
import io.blockmover.index.manifest.ManifestStore;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.pack.PackWriter;
import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.backup.RepositoryPeers;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxies sharing one repository in a bucket. What each publishes:
 * <ul>
 * <li>an immutable index segment per sealed pack, {@code index/g<generation>/<proxy>/<millis>-<seq>.seg},
 *     before the pack's chunks can be named by any manifest;</li>
 * <li>a backup object {@code backups/<16 hex id>} (the catalog record), after the backup's
 *     manifest pack is uploaded: the moment the backup becomes visible to every proxy;</li>
 * <li>gc: a new generation, one segment of the whole swept index, {@code index/generation}
 *     switched to it, the old generation's segments deleted, all before any pack goes.</li>
 * </ul>
 * {@link #refresh()} folds all that into this proxy's local index (a cache): new segments, new
 * backups (manifests read from their manifest packs), backups gone (pruned), and a new generation
 * (the cache's chunk entries are dropped and refolded). Segments and manifest packs read once are
 * kept under {@code <cache>/objects/}: a lost index is rebuilt from them without a request.
 */
public final class BucketPeers implements RepositoryPeers {
    private static final Logger log = LoggerFactory.getLogger(BucketPeers.class);
    static final String INDEX = "index/";
    static final String GENERATION = INDEX + "generation";
    static final String BACKUPS = "backups/";
    private static final String STATE = "peers.state";
    private static final int BATCH = 16 << 10;

    private final ObjectStore store;
    private final String proxy;
    private final Path cache;
    private final BucketLocks locks;
    private final AtomicLong sequence = new AtomicLong();
    private IndexDb db;
    /** Guarded by this: what the local index holds of the bucket. */
    private long generation = -1;
    private final Set<String> folded = new LinkedHashSet<>();
    /** Guarded by this: System.nanoTime() when the last refresh began. */
    private long lastRefreshStart = System.nanoTime() - (1L << 62);

    /** A request of the store's on a virtual thread of its own, so that several go out at once. */
    private interface Request<T> {
        T send() throws IOException;
    }

    private static <T> CompletableFuture<T> async(Request<T> r) {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread.ofVirtual().name("s3-request").start(() -> {
            try {
                f.complete(r.send());
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        return f;
    }

    private static <T> T await(CompletableFuture<T> f) throws IOException {
        try {
            return f.join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(e.getCause());
        }
    }

    BucketPeers(ObjectStore store, String proxy, Path cache, LockTiming timing) throws IOException {
        this.store = store;
        this.proxy = proxy;
        this.cache = cache;
        this.locks = new BucketLocks(store, proxy, timing);
        Files.createDirectories(cache.resolve("objects"));
        readState();
    }

    /** Set once the repository's index is open. */
    synchronized void attach(IndexDb db) {
        this.db = db;
    }

    public ObjectStore store() {
        return store;
    }

    public String proxy() {
        return proxy;
    }

    /** Millisecond time in the high bits, a hash of the proxy id in the low 10: ids of two proxies never meet in practice. */
    @Override
    public long firstBackupId() {
        return (System.currentTimeMillis() << 10) | (proxy.hashCode() & 0x3FF);
    }

    @Override
    public Lease shared(String what) throws IOException {
        return locks.shared(what);
    }

    @Override
    public Lease exclusive(String what) throws IOException {
        return locks.exclusive(what);
    }

    @Override
    public void packSealed(long packId, List<PackWriter.Entry> entries) throws IOException {
        IndexSegment seg = new IndexSegment();
        for (PackWriter.Entry e : entries) {
            seg.add(e.id().bytes(), e.location().encode());
        }
        if (seg.count() == 0) {
            return;
        }
        long gen;
        synchronized (this) {
            gen = Math.max(generation, 0);
        }
        String name = INDEX + "g" + gen + "/" + proxy + "/" + System.currentTimeMillis() + "-"
                + String.format("%06d", sequence.incrementAndGet()) + "-" + HexFormat.of().toHexDigits(packId) + ".seg";
        byte[] bytes = seg.encode();
        store.put(name, ByteBuffer.wrap(bytes));
        keep(name, bytes);
        synchronized (this) {
            folded.add(name); // this process's own entries are published locally by the caller
        }
    }

    @Override
    public void committing(BackupRecord record) throws IOException {
        store.put(backupName(record.id()), ByteBuffer.wrap(record.encode()));
    }

    @Override
    public void pruning(List<Long> backupIds) throws IOException {
        for (long id : backupIds) {
            store.delete(backupName(id));
        }
    }

    @Override
    public synchronized void indexRewritten(RepoContext ctx) throws IOException {
        publishGeneration(ctx.db(), "gc");
    }

    /**
     * After rebuild-index scanned the bucket's packs into {@code db} (under an exclusive lock): the
     * scan is the bucket's index from now on, as gc's sweep is (a new generation of one segment),
     * and every backup it recovered whose backup object is missing is published again.
     */
    synchronized void republish(IndexDb db) throws IOException {
        Set<String> inBucket = new HashSet<>();
        for (ObjectStore.ObjectInfo o : store.list(BACKUPS)) {
            inBucket.add(o.name());
        }
        int restored = 0;
        for (BackupRecord b : new ManifestStore(db).backups()) {
            if (!inBucket.contains(backupName(b.id()))) {
                store.put(backupName(b.id()), ByteBuffer.wrap(b.encode()));
                restored++;
            }
        }
        byte[] g = store.get(GENERATION);
        generation = g == null ? 0 : Long.parseLong(new String(g, StandardCharsets.US_ASCII).strip());
        publishGeneration(db, "rebuild");
        log.info("rebuild-index: {} backup objects published again", restored);
    }

    /** A new generation of one segment holding {@code db}'s whole index, switched to, the older ones deleted. */
    private void publishGeneration(IndexDb db, String tag) throws IOException {
        long next = Math.max(generation, 0) + 1;
        IndexSegment all = new IndexSegment();
        try (RocksIterator it = db.iterator(db.chunks())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                all.add(it.key(), it.value());
            }
            IndexDb.checkScan(it, "writing the index after " + tag);
        }
        String name = INDEX + "g" + next + "/" + proxy + "/" + System.currentTimeMillis() + "-" + tag + ".seg";
        byte[] bytes = all.encode();
        store.put(name, ByteBuffer.wrap(bytes));
        keep(name, bytes);
        store.put(GENERATION, ByteBuffer.wrap(Long.toString(next).getBytes(StandardCharsets.US_ASCII)));
        long old = generation;
        generation = next;
        folded.clear();
        folded.add(name);
        writeState();
        for (long g = Math.max(old, 0); g < next; g++) {
            for (ObjectStore.ObjectInfo o : store.list(INDEX + "g" + g + "/")) {
                store.delete(o.name());
            }
        }
        log.info("{}: published index generation {} ({} entries)", tag, next, all.count());
    }

    @Override
    public synchronized void refresh() throws IOException {
        try {
            refreshLocked();
        } catch (RocksDBException e) {
            throw new RepositoryException("cannot fold the bucket's index into the local cache: " + e.getMessage(), e);
        }
    }

    /** The refresh after a job's lock is always a whole {@link #refresh()}: only catalog reads take a recent one. */
    @Override
    public synchronized void refresh(long maxAgeMillis) throws IOException {
        if (System.nanoTime() - lastRefreshStart < maxAgeMillis * 1_000_000L) {
            return;
        }
        refresh();
    }

    private void refreshLocked() throws IOException, RocksDBException {
        lastRefreshStart = System.nanoTime();
        // The local catalog before the bucket's listing: a backup this process commits meanwhile is in
        // the bucket before it is local, so it is never taken for one pruned elsewhere.
        Set<Long> local = new HashSet<>();
        for (BackupRecord b : new ManifestStore(db).backups()) {
            local.add(b.id());
        }
        // The three requests at once (one round trip, not three): the segments of the generation
        // this cache holds are listed beside the question whether it is still the bucket's.
        long assumed = Math.max(generation, 0);
        CompletableFuture<byte[]> g = async(() -> store.get(GENERATION));
        CompletableFuture<List<ObjectStore.ObjectInfo>> listed = async(() -> store.list(INDEX + "g" + assumed + "/"));
        CompletableFuture<List<ObjectStore.ObjectInfo>> backups = async(() -> store.list(BACKUPS));
        byte[] gen = await(g);
        long current = gen == null ? 0 : Long.parseLong(new String(gen, StandardCharsets.US_ASCII).strip());
        if (current != generation) {
            if (generation >= 0) {
                log.info("the bucket's index is at generation {} (this cache: {}): refolding it", current, generation);
            }
            clearChunks();
            generation = current;
            folded.clear();
            writeState();
        }
        List<ObjectStore.ObjectInfo> segmentsListed = current == assumed ? await(listed) : store.list(INDEX + "g" + current + "/");
        int segments = 0;
        for (ObjectStore.ObjectInfo o : segmentsListed) {
            if (!folded.contains(o.name()) && o.name().endsWith(".seg")) {
                fold(o.name());
                segments++;
            }
        }
        List<ObjectStore.ObjectInfo> backupsListed = await(backups);
        Set<Long> inBucket = new HashSet<>();
        int added = 0;
        for (ObjectStore.ObjectInfo o : backupsListed) {
            long id;
            try {
                id = Long.parseUnsignedLong(o.name().substring(BACKUPS.length()), 16);
            } catch (NumberFormatException e) {
                continue;
            }
            inBucket.add(id);
            if (!local.contains(id) && db.get(db.catalog(), ManifestKeys.catalogKey(id)) == null) {
                if (foldBackup(o.name())) {
                    added++;
                }
            }
        }
        int removed = 0;
        try (WriteBatch batch = new WriteBatch()) {
            ManifestStore manifests = new ManifestStore(db);
            for (long id : local) {
                if (!inBucket.contains(id)) {
                    manifests.delete(batch, id);
                    removed++;
                }
            }
            if (removed > 0) {
                db.write(batch, true);
            }
        }
        if (segments + added + removed > 0) {
            writeState();
            log.debug("folded in {} index segments, {} backups; {} backups gone from the bucket", segments, added, removed);
        }
    }

    private void fold(String name) throws IOException, RocksDBException {
        byte[] seg = cached(name);
        List<byte[][]> entries = new ArrayList<>();
        IndexSegment.decode(seg, name, (k, v) -> entries.add(new byte[][] {k, v}));
        WriteBatch batch = new WriteBatch();
        try {
            for (byte[][] e : entries) {
                batch.put(db.chunks(), e[0], e[1]);
                if (batch.count() >= BATCH) {
                    db.write(batch, false);
                    batch.close();
                    batch = new WriteBatch();
                }
            }
            db.write(batch, true);
        } finally {
            batch.close();
        }
        folded.add(name);
    }

    /** Reads a backup object and its manifest pack into the local catalog; false if it vanished or is incomplete. */
    private boolean foldBackup(String name) throws IOException, RocksDBException {
        byte[] rec = store.get(name);
        if (rec == null) {
            return false; // pruned between the listing and now
        }
        BackupRecord record = BackupRecord.decode(rec);
        String packName = S3PackStore.name(record.manifestPack());
        byte[] pack = cached(packName);
        Map<Long, byte[]> segments = manifestSegments(pack, packName);
        try (WriteBatch batch = new WriteBatch()) {
            for (DiskRecord d : record.disks()) {
                for (int s = 0; s < d.segments(); s++) {
                    byte[] v = segments.get(((long) d.index() << 32) | s);
                    if (v == null || v.length != ManifestStore.entriesIn(d, s) * ManifestKeys.ENTRY) {
                        throw new RepositoryException("backup " + record.id() + " in " + store.target() + ": its manifest pack "
                                + Long.toHexString(record.manifestPack()) + " lacks disk " + d.index() + " segment " + s);
                    }
                    ManifestStore.putSegment(batch, db, record.id(), d.index(), s, v, v.length);
                }
            }
            batch.put(db.catalog(), ManifestKeys.catalogKey(record.id()), rec);
            db.write(batch, true);
        }
        return true;
    }

    /** The manifest-segment records of a manifest pack, by (disk index << 32 | segment), each checked by its CRCs. */
    private static Map<Long, byte[]> manifestSegments(byte[] pack, String name) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(pack);
        try {
            PackFormat.readFileHeader(b.slice(0, Math.min(pack.length, PackFormat.FILE_HEADER)));
        } catch (IllegalArgumentException e) {
            throw new IOException("manifest pack " + name + ": " + e.getMessage());
        }
        Map<Long, byte[]> out = new HashMap<>();
        int pos = PackFormat.FILE_HEADER;
        while (pos + 4 <= pack.length && b.getInt(pos) != PackFormat.FOOTER_MAGIC) {
            if (pos + PackFormat.RECORD_HEADER > pack.length || b.getInt(pos) != PackFormat.RECORD_MAGIC
                    || b.getInt(pos + PackFormat.H_HEADER_CRC) != PackFormat.crc(b, pos, PackFormat.H_HEADER_CRC)) {
                throw new IOException("manifest pack " + name + " is damaged at offset " + pos);
            }
            int len = b.getInt(pos + PackFormat.H_PAYLOAD);
            int at = pos + PackFormat.RECORD_HEADER;
            if (len < 0 || at + len > pack.length || PackFormat.crc(b, at, len) != b.getInt(pos + PackFormat.H_PAYLOAD_CRC)) {
                throw new IOException("manifest pack " + name + ": record at offset " + pos + " is damaged");
            }
            if (b.get(pos + PackFormat.H_KIND) == PackFormat.KIND_MANIFEST) {
                int disk = b.getShort(pos + PackFormat.H_DIGEST + 8) & 0xFFFF;
                int segment = b.getInt(pos + PackFormat.H_DIGEST + 10);
                byte[] v = new byte[len];
                b.get(at, v);
                out.put(((long) disk << 32) | segment, v);
            }
            pos = at + len;
        }
        return out;
    }

    /** An immutable object, from the local read cache, else from the bucket (then kept). */
    private byte[] cached(String name) throws IOException {
        Path p = cache.resolve("objects").resolve(name.replace('/', '_'));
        if (Files.exists(p)) {
            return Files.readAllBytes(p);
        }
        byte[] b = store.get(name);
        if (b == null) {
            throw new IOException("object " + name + " is missing from " + store.target());
        }
        keep(name, b);
        return b;
    }

    private void keep(String name, byte[] bytes) throws IOException {
        Path p = cache.resolve("objects").resolve(name.replace('/', '_'));
        Path tmp = p.resolveSibling(p.getFileName() + ".tmp");
        Files.write(tmp, bytes);
        Files.move(tmp, p, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static String backupName(long id) {
        return BACKUPS + HexFormat.of().toHexDigits(id);
    }

    /** Drops every chunk entry (the chunks CF is a PlainTable, which has no DeleteRange). */
    private void clearChunks() throws RocksDBException {
        WriteBatch batch = new WriteBatch();
        try (RocksIterator it = db.iterator(db.chunks())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                batch.delete(db.chunks(), it.key());
                if (batch.count() >= BATCH) {
                    db.write(batch, false);
                    batch.close();
                    batch = new WriteBatch();
                }
            }
            IndexDb.checkScan(it, "clearing the local index");
            db.write(batch, true);
        } finally {
            batch.close();
        }
    }

    /** {@code generation=N} and one {@code folded=NAME} per segment in the local index; lost with it, then all is refolded. */
    private void readState() throws IOException {
        Path f = cache.resolve(STATE);
        if (!Files.exists(f) || !Files.exists(cache.resolve("index").resolve("CURRENT"))) {
            return;
        }
        for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
            if (line.startsWith("generation=")) {
                generation = Long.parseLong(line.substring("generation=".length()));
            } else if (line.startsWith("folded=")) {
                folded.add(line.substring("folded=".length()));
            }
        }
    }

    private void writeState() throws IOException {
        StringBuilder sb = new StringBuilder("generation=").append(generation).append('\n');
        for (String s : folded) {
            sb.append("folded=").append(s).append('\n');
        }
        Path tmp = cache.resolve(STATE + ".tmp");
        Files.writeString(tmp, sb, StandardCharsets.UTF_8);
        Files.move(tmp, cache.resolve(STATE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Forgets what the local index holds, so the next refresh refolds everything (rebuild-index). */
    synchronized void forget() throws IOException {
        generation = -1;
        folded.clear();
        Files.deleteIfExists(cache.resolve(STATE));
    }

    @Override
    public void close() {
        locks.close();
        store.close();
    }
}
