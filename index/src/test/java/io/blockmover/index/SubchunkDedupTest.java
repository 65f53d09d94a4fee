package io.blockmover.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.maintenance.DamagedChunk;
import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.GcReport;
import io.blockmover.index.maintenance.IndexRebuilder;
import io.blockmover.index.maintenance.Pruner;
import io.blockmover.index.maintenance.Retention;
import io.blockmover.index.maintenance.VerifyReport;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.pack.LocalPackStore;
import io.blockmover.index.pack.PackStore;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.RepositoryConfig;
import io.blockmover.index.repo.internal.RepoInternals;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import net.jpountz.xxhash.XXHashFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;

/**
 * Sub-chunk dedup: a file copied to another 4 KiB-aligned offset of a disk is stored as recipes
 * referring to the chunks that hold it already, and everything that reads, checks, collects or
 * rebuilds the repository keeps such a backup whole.
 */
class SubchunkDedupTest {
    static final int CHUNK = 64 << 10;
    static final int DISK = 24 * CHUNK;
    /** The copied file: 640 KiB of random bytes (incompressible, so stored bytes measure dedup alone). */
    static final int FILE = 640 << 10;
    static final int SHIFT = 12 << 10;

    @TempDir
    Path dir;

    static InitOptions options(boolean subchunk) {
        return InitOptions.defaults().withChunkSize(CHUNK).withPackTargetSize(256 << 10).withSubchunkDedup(subchunk);
    }

    /** Disk image: the file at {@code fileAt}, random bytes seeded by {@code seed} elsewhere. */
    static byte[] disk(byte[] file, int fileAt, long seed) {
        byte[] d = new byte[DISK];
        new Random(seed).nextBytes(d);
        System.arraycopy(file, 0, d, fileAt, file.length);
        return d;
    }

    static byte[] file() {
        byte[] f = new byte[FILE];
        new Random(42).nextBytes(f);
        return f;
    }

    /** Backs the image up; returns {backup id, bytes its new chunks added to packs}. */
    static long[] backup(Repository repo, String vm, byte[] image) throws Exception {
        try (BackupWriter w = repo.newBackup(BackupSpec.full(vm, vm))) {
            DiskWriter d = w.addDisk(new DiskSpec("disk0", image.length, ""));
            long stored = 0;
            ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
            for (int off = 0; off < image.length; off += CHUNK) {
                b.clear().put(image, off, CHUNK).flip();
                stored += Math.max(0, d.put(off, b));
            }
            return new long[] {w.commit(), stored};
        }
    }

    static void assertRestores(Repository repo, long id, byte[] image) throws Exception {
        try (BackupReader r = repo.openBackup(id)) {
            DiskReader d = r.disk("disk0");
            ByteBuffer got = ByteBuffer.allocate(CHUNK);
            for (int off = 0; off < image.length; off += CHUNK) {
                d.read(off, got.clear());
                assertArrayEquals(Arrays.copyOfRange(image, off, off + CHUNK), got.array(), "backup " + id + " offset " + off);
            }
        }
    }

    static IndexDb db(Repository repo) {
        return RepoInternals.context(repo).db();
    }

    static List<ChunkId> recipes(Repository repo) {
        List<ChunkId> out = new ArrayList<>();
        try (RocksIterator it = db(repo).iterator(db(repo).recipes())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                out.add(ChunkId.wrap(it.key()));
            }
        }
        return out;
    }

    /**
     * A chunk can sit in the packs both whole and as a recipe: a backup killed after it stored the
     * recipe, whose rerun stored the chunk whole (found by KillRecipesAndFramesTest). rebuild-index
     * took whichever record it scanned last; when that was the recipe, the recipes using the chunk
     * as a source (sources are plain, reads one level deep) broke, in committed backups.
     */
    @Test
    void rebuildIndexKeepsThePlainCopyOfAChunkThatIsAlsoStoredAsARecipe() throws Exception {
        byte[] file = file();
        byte[] original = disk(file, 0, 1);
        byte[] copy = disk(file, 5 * CHUNK + SHIFT, 2);
        Path root = dir.resolve("r");
        long copyId;
        ChunkId source;
        try (Repository repo = Repository.init(root, options(true))) {
            long originalId = backup(repo, "vm", original)[0];
            copyId = backup(repo, "vm", copy)[0];
            source = Fixtures.chunkAt(repo, originalId, CHUNK); // the file's second chunk: a source of the copy's recipes
            assertEquals(0, db(repo).location(source).flags() & PackFormat.FLAG_RECIPE);
        }
        // The same chunk as a recipe: another repository stores the copy first, then the original.
        long foreignPack;
        try (Repository other = Repository.init(dir.resolve("other"), options(true))) {
            backup(other, "vm", copy);
            backup(other, "vm", original);
            ChunkLocation recipe = db(other).location(source);
            assertTrue((recipe.flags() & PackFormat.FLAG_RECIPE) != 0, "the original's chunk is a recipe there");
            foreignPack = recipe.packId();
        }
        Path target = new LocalPackStore(root.resolve("packs")).pathOf(foreignPack);
        Files.createDirectories(target.getParent());
        Files.copy(new LocalPackStore(dir.resolve("other").resolve("packs")).pathOf(foreignPack), target);

        // Whichever order the packs are listed in, the chunk stays whole.
        RepositoryConfig config = RepositoryConfig.readRebuildable(root);
        for (boolean foreignLast : new boolean[] {true, false}) {
            try (IndexDb scanned = IndexDb.open(dir.resolve("scan-" + foreignLast), config.rebuiltVersion(), false, true);
                 LocalPackStore packs = new LocalPackStore(root.resolve("packs"))) {
                IndexRebuilder.scan(scanned, ordered(packs, foreignPack, foreignLast), config, null);
                assertEquals(0, scanned.location(source).flags() & PackFormat.FLAG_RECIPE, "foreign pack last: " + foreignLast);
            }
        }
        IndexRebuilder.rebuild(root);
        try (Repository repo = Repository.open(root, null)) {
            assertRestores(repo, copyId, copy);
            VerifyReport v = new Verifier(repo).run(2);
            assertTrue(v.ok(), v.toString());
        }
    }

    /**
     * A condemned chunk is stored afresh by a writer that gc condemned it under; if that fresh copy
     * becomes a recipe, it must not take the place of the whole copy a recipe of an open backup
     * (reprieved by gc) uses as a source.
     */
    @Test
    void aFreshCopyOfACondemnedChunkNeverTurnsASourceOfAnOpenBackupsRecipeIntoARecipe() throws Exception {
        byte[] file = file();
        try (Repository repo = Repository.init(dir.resolve("r"), options(true))) {
            long first = backup(repo, "p", disk(file, 0, 1))[0];
            byte[] other = new byte[DISK];
            new Random(9).nextBytes(other);
            backup(repo, "p", other);
            ChunkId c = Fixtures.chunkAt(repo, first, CHUNK);
            byte[] shifted = disk(file, SHIFT, 3);
            // Holds the file 32 KiB earlier (two new whole chunks, as their sources are condemned), then chunk c itself.
            byte[] fresh = new byte[DISK];
            new Random(4).nextBytes(fresh);
            System.arraycopy(file, 32 << 10, fresh, 0, 2 * CHUNK);
            System.arraycopy(file, CHUNK, fresh, 2 * CHUNK, CHUNK);
            long[] during = new long[1];
            try (BackupWriter open = repo.newBackup(BackupSpec.full("open", "open"))) {
                DiskWriter d = open.addDisk(new DiskSpec("disk0", DISK, ""));
                ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
                for (int off = 0; off < DISK; off += CHUNK) {
                    d.put(off, b.clear().put(shifted, off, CHUNK).flip());
                }
                assertEquals(1, new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, false).removed().size());
                RepoInternals.context(repo).fence().observeGc(phase -> {
                    if (phase == io.blockmover.index.backup.GcFence.Phase.CONDEMNED) {
                        try {
                            during[0] = backup(repo, "fresh", fresh)[0];
                        } catch (Exception e) {
                            throw new AssertionError(e);
                        }
                    }
                });
                new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO));
                RepoInternals.context(repo).fence().observeGc(null);
                long openId = open.commit();
                assertEquals(0, db(repo).location(c).flags() & PackFormat.FLAG_RECIPE, "the fresh copy of c is whole");
                assertRestores(repo, during[0], fresh);
                assertRestores(repo, openId, shifted);
            }
            VerifyReport v = new Verifier(repo).run(2);
            assertTrue(v.ok(), v.toString());
        }
    }

    /** {@code packs}, listing pack {@code id} last (or first). */
    private static PackStore ordered(PackStore packs, long id, boolean last) {
        return new PackStore() {
            @Override
            public Output create(long packId) throws IOException {
                return packs.create(packId);
            }

            @Override
            public int read(long packId, long position, ByteBuffer dst) throws IOException {
                return packs.read(packId, position, dst);
            }

            @Override
            public List<PackInfo> list() throws IOException {
                List<PackInfo> all = new ArrayList<>(packs.list());
                all.sort(java.util.Comparator.comparing(p -> (p.packId() == id) == last));
                return all;
            }

            @Override
            public void delete(long packId) throws IOException {
                packs.delete(packId);
            }

            @Override
            public void close() throws IOException {
                packs.close();
            }
        };
    }

    @Test
    void aCopiedFileAtAnotherOffsetIsStoredAsRecipesAndRestoresExactly() throws Exception {
        byte[] file = file();
        byte[] original = disk(file, 0, 1);
        byte[] copy = disk(file, 5 * CHUNK + SHIFT, 2);
        long[] with;
        long[] without;
        try (Repository repo = Repository.init(dir.resolve("on"), options(true))) {
            long[] a = backup(repo, "vm", original);
            with = backup(repo, "vm", copy);
            assertRestores(repo, a[0], original);
            assertRestores(repo, with[0], copy);
            assertTrue(new Verifier(repo).run(2).ok());
            List<ChunkId> r = recipes(repo);
            // The file covers 9 whole chunks of the copy and parts of 2 more; each is a recipe.
            assertTrue(r.size() >= 9, "recipes: " + r.size());
            for (ChunkId id : r) {
                assertTrue((db(repo).location(id).flags() & PackFormat.FLAG_RECIPE) != 0);
            }
        }
        try (Repository repo = Repository.init(dir.resolve("off"), options(false))) {
            backup(repo, "vm", original);
            without = backup(repo, "vm", copy);
        }
        // Without: the whole copy again (random bytes do not compress). With: about the bytes that are not the file.
        assertTrue(without[1] > DISK - CHUNK, "without sub-chunk dedup " + without[1]);
        long newBytes = DISK - FILE;
        assertTrue(with[1] < newBytes + 3 * CHUNK, "with sub-chunk dedup " + with[1] + " bytes, the copy's new bytes are " + newBytes);
        System.out.printf("copied %d KiB file at a 4 KiB shift: stored %d bytes with sub-chunk dedup, %d without%n",
                FILE >> 10, with[1], without[1]);
    }

    /**
     * The copy in the same backup as its original, close behind it, stored by four threads into
     * small packs: its sources are the backup's own chunks, some in packs not sealed when the recipe
     * is written. Every recipe the index names has its sources indexed, after the commit and after gc.
     */
    @Test
    void aCopyInTheSameBackupReferencesItsOriginalBeforeItsPackIsSealed() throws Exception {
        byte[] file = file();
        byte[] image = disk(file, 0, 3);
        System.arraycopy(file, 0, image, FILE + SHIFT, FILE); // the copy, 12 KiB behind the original
        try (Repository repo = Repository.init(dir.resolve("r"), options(true))) {
            long id;
            try (BackupWriter w = repo.newBackup(BackupSpec.full("vm", "vm"))) {
                DiskWriter d = w.addDisk(new DiskSpec("disk0", image.length, ""));
                java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
                List<Thread> threads = new ArrayList<>();
                List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
                for (int t = 0; t < 4; t++) {
                    threads.add(Thread.ofPlatform().start(() -> {
                        ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
                        try {
                            for (int c = next.getAndIncrement(); c < DISK / CHUNK; c = next.getAndIncrement()) {
                                b.clear().put(image, c * CHUNK, CHUNK).flip();
                                d.put((long) c * CHUNK, b);
                            }
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    }));
                }
                for (Thread t : threads) {
                    t.join();
                }
                assertEquals(List.of(), failures);
                id = w.commit();
            }
            List<ChunkId> r = recipes(repo);
            assertTrue(r.size() >= 5, "recipes: " + r.size());
            assertSourcesIndexed(repo);
            assertRestores(repo, id, image);
            new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(1.0));
            assertSourcesIndexed(repo);
            assertRestores(repo, id, image);
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    /**
     * An incremental's changed chunk shares most of its blocks with its previous version, but is
     * stored whole, as before: as a recipe of that version it would keep it alive after the full is
     * pruned and make every read of it read the old chunk too.
     */
    @Test
    void aChangedChunkOfAnIncrementalIsNotARecipeOfItsPreviousVersion() throws Exception {
        byte[] full = disk(file(), 0, 1);
        byte[] changed = full.clone();
        for (int c = 0; c < 6; c++) {
            changed[c * CHUNK + 5 * 4096] ^= 1; // one 4 KiB block of each of the first six chunks
        }
        try (Repository repo = Repository.init(dir.resolve("r"), options(true))) {
            long a = backup(repo, "vm", full)[0];
            long b;
            try (BackupWriter w = repo.newBackup(BackupSpec.incremental("vm", "vm", a))) {
                DiskWriter d = w.addDisk(new DiskSpec("disk0", DISK, ""));
                d.reuse(6L * CHUNK, DISK - 6L * CHUNK);
                ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
                for (int c = 0; c < 6; c++) {
                    buf.clear().put(changed, c * CHUNK, CHUNK).flip();
                    assertTrue(d.put((long) c * CHUNK, buf) > CHUNK - 64, "stored whole");
                }
                b = w.commit();
            }
            assertEquals(List.of(), recipes(repo));
            new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, false);
            GcReport gc = new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(1.0));
            assertEquals(6, gc.deletedChunkEntries(), "the six previous versions go: " + gc);
            assertRestores(repo, b, changed);
        }
    }

    static void assertSourcesIndexed(Repository repo) {
        try (RocksIterator it = db(repo).iterator(db(repo).recipes())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                assertNotNull(db(repo).location(ChunkId.wrap(it.key())), "a recipes entry without its chunk");
                byte[] v = it.value();
                for (int at = 0; at < v.length; at += ChunkId.LENGTH) {
                    ChunkLocation l = db(repo).location(ChunkId.copyOf(v, at));
                    assertNotNull(l, "recipe source not indexed");
                    assertEquals(0, l.flags() & PackFormat.FLAG_RECIPE, "a recipe source is itself a recipe");
                }
            }
        }
    }

    @Test
    void gcAfterPruningTheSourceBackupKeepsRecipesReadable() throws Exception {
        byte[] file = file();
        byte[] original = disk(file, 0, 1);
        byte[] copy = disk(file, 3 * CHUNK + SHIFT, 2);
        try (Repository repo = Repository.init(dir.resolve("r"), options(true))) {
            long a = backup(repo, "vm", original)[0];
            long b = backup(repo, "vm", copy)[0];
            assertFalse(recipes(repo).isEmpty());
            assertEquals(List.of(a), new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, false).removed());
            // Compact every pack: the sources move, the recipes follow them through the index.
            GcReport gc = new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(1.0));
            assertTrue(gc.deletedChunkEntries() > 0, "the pruned backup's own chunks go: " + gc);
            assertRestores(repo, b, copy);
            assertTrue(new Verifier(repo).run(2).ok());
            // The pruned backup's chunks that no recipe uses are gone, with their fingerprints.
            ChunkId lastOfA = ChunkId.wrap(RepoInternals.context(repo).codecs().borrow().digest(
                    ByteBuffer.wrap(original, DISK - CHUNK, CHUNK)).bytes());
            assertNull(db(repo).location(lastOfA));
        }
    }

    @Test
    void verifyNamesADamagedSourceInTheRecipesThatUseIt() throws Exception {
        byte[] file = file();
        Path root = dir.resolve("r");
        ChunkId recipe;
        ChunkId source;
        ChunkLocation sourceAt;
        try (Repository repo = Repository.init(root, options(true))) {
            backup(repo, "vm", disk(file, 0, 1));
            backup(repo, "vm2", disk(file, 2 * CHUNK + SHIFT, 2));
            recipe = recipes(repo).getFirst();
            byte[] sources = db(repo).get(db(repo).recipes(), recipe.bytes());
            source = ChunkId.copyOf(sources, 0);
            sourceAt = db(repo).location(source);
            assertNotNull(sourceAt);
        }
        try (RandomAccessFile f = new RandomAccessFile(new LocalPackStore(root.resolve("packs")).pathOf(sourceAt.packId()).toFile(), "rw")) {
            long at = sourceAt.offset() + PackFormat.RECORD_HEADER + sourceAt.payloadLength() / 2;
            f.seek(at);
            int v = f.read();
            f.seek(at);
            f.write(v ^ 0x01);
        }
        try (Repository repo = Repository.open(root, null)) {
            VerifyReport report = new Verifier(repo).run(2);
            Set<String> damaged = report.damaged().stream().map(DamagedChunk::chunkId).collect(Collectors.toSet());
            assertTrue(damaged.contains(source.hex()), report.toString());
            assertTrue(damaged.contains(recipe.hex()), report.toString());
            DamagedChunk r = report.damaged().stream().filter(d -> d.chunkId().equals(recipe.hex())).findFirst().orElseThrow();
            assertTrue(r.reason().contains("recipe source " + source.hex()), r.reason());
            assertFalse(r.usedBy().isEmpty(), "the backups that use the recipe are named");
        }
    }

    @Test
    void rebuildIndexRestoresRecipesAndFingerprints() throws Exception {
        byte[] file = file();
        byte[] original = disk(file, 0, 1);
        byte[] copy = disk(file, 3 * CHUNK + SHIFT, 2);
        Path root = dir.resolve("r");
        long b;
        int recipesBefore;
        try (Repository repo = Repository.init(root, options(true))) {
            backup(repo, "vm", original);
            b = backup(repo, "vm", copy)[0];
            recipesBefore = recipes(repo).size();
        }
        for (Path p : Files.list(root.resolve("index")).toList()) {
            Files.delete(p);
        }
        Files.delete(root.resolve("index"));
        assertTrue(IndexRebuilder.rebuild(root).problems().isEmpty());
        try (Repository repo = Repository.open(root, null)) {
            assertEquals(recipesBefore, recipes(repo).size());
            assertRestores(repo, b, copy);
            // The fingerprints are back: a third copy, at yet another shift, is found through them.
            long[] third = backup(repo, "vm3", disk(file, 7 * CHUNK + 2 * SHIFT, 3));
            assertTrue(third[1] < DISK - FILE + 3 * CHUNK, "third copy stored " + third[1]);
            // And gc, after the first backup is pruned, keeps what the restored recipes need.
            new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, false);
            new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(1.0));
            assertRestores(repo, b, copy);
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    @Test
    void encryptedRepositoriesKeyTheirFingerprints() throws Exception {
        byte[] file = file();
        byte[] copy = disk(file, 4 * CHUNK + SHIFT, 2);
        char[] pass = "correct horse".toCharArray();
        try (Repository repo = Repository.init(dir.resolve("r"), options(true).withPassphrase(pass, 1000))) {
            backup(repo, "vm", disk(file, 0, 1));
            long[] b = backup(repo, "vm", copy);
            assertTrue(b[1] < DISK - FILE + 3 * CHUNK, "stored " + b[1]);
            assertRestores(repo, b[0], copy);
            // No key is the unkeyed hash of a block of the file: a guess of content cannot be tested.
            Set<Long> plainHashes = new java.util.HashSet<>();
            for (int at = 0; at < FILE; at += 4096) {
                plainHashes.add(XXHashFactory.fastestInstance().hash64().hash(file, at, 4096, 0));
            }
            int keys = 0;
            try (RocksIterator it = db(repo).iterator(db(repo).fingerprints())) {
                for (it.seekToFirst(); it.isValid(); it.next(), keys++) {
                    assertFalse(plainHashes.contains(ByteBuffer.wrap(it.key()).getLong()));
                }
            }
            assertTrue(keys > 0);
        }
    }

    @Test
    void withoutSubchunkDedupTheRepositoryStaysFormat2WithFourColumnFamilies() throws Exception {
        Path root = dir.resolve("r");
        try (Repository repo = Repository.init(root, options(false))) {
            assertEquals(2, repo.config().formatVersion());
            assertFalse(db(repo).hasSubchunks());
        }
        assertFalse(Files.readString(root.resolve("config")).contains("subchunkDedup"));
        try (Options o = new Options()) {
            assertEquals(4, RocksDB.listColumnFamilies(o, root.resolve("index").toString()).size());
        }
        try (Repository repo = Repository.init(dir.resolve("s"), options(true))) {
            assertEquals(RepositoryConfig.SUBCHUNK_FORMAT_VERSION, repo.config().formatVersion());
            assertTrue(repo.config().subchunkDedup());
        }
        // The CFs follow the setting, not the version: a tool opening the index by version alone finds them.
        try (IndexDb db = IndexDb.open(dir.resolve("s").resolve("index"), RepositoryConfig.SUBCHUNK_FORMAT_VERSION)) {
            assertTrue(db.hasSubchunks());
        }
    }

    /**
     * Random disks made of 4 KiB blocks drawn from a small pool (so blocks repeat at every shift),
     * zero blocks and fresh blocks; several backups, prunes and gcs. Every backup kept restores
     * byte for byte and the repository verifies.
     */
    @Test
    void randomBlockShufflesRoundTripThroughPruneAndGc() throws Exception {
        Random rnd = new Random(7);
        byte[][] pool = new byte[48][4096];
        for (byte[] p : pool) {
            rnd.nextBytes(p);
        }
        try (Repository repo = Repository.init(dir.resolve("r"), options(true))) {
            List<long[]> kept = new ArrayList<>();
            List<byte[]> images = new ArrayList<>();
            for (int round = 0; round < 6; round++) {
                byte[] image = new byte[DISK];
                int at = 0;
                while (at < DISK) {
                    int run = 1 + rnd.nextInt(24);
                    int first = rnd.nextInt(pool.length);
                    int kind = rnd.nextInt(10);
                    for (int k = 0; k < run && at < DISK; k++, at += 4096) {
                        if (kind == 0) {
                            continue; // zeros
                        } else if (kind == 1) {
                            byte[] fresh = new byte[4096];
                            rnd.nextBytes(fresh);
                            System.arraycopy(fresh, 0, image, at, 4096);
                        } else {
                            System.arraycopy(pool[(first + k) % pool.length], 0, image, at, 4096);
                        }
                    }
                }
                long id = backup(repo, "vm" + (round % 2), image)[0];
                kept.add(new long[] {id, round % 2});
                images.add(image);
                if (round % 2 == 1) {
                    new Pruner(repo).run(new Retention(2, 0, 0, 0, 0), ZoneOffset.UTC, false);
                    new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(rnd.nextDouble()));
                }
                Set<Long> live = repo.backups().stream().map(x -> x.id()).collect(Collectors.toSet());
                for (int i = 0; i < kept.size(); i++) {
                    if (live.contains(kept.get(i)[0])) {
                        assertRestores(repo, kept.get(i)[0], images.get(i));
                    }
                }
            }
            assertFalse(recipes(repo).isEmpty(), "the pool's blocks repeat at other offsets: some chunks are recipes");
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }
}
