package io.blockmover.index;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.backup.RunOutcome;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.maintenance.DamagedChunk;
import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.GcReport;
import io.blockmover.index.maintenance.IndexRebuilder;
import io.blockmover.index.maintenance.Pruner;
import io.blockmover.index.maintenance.RebuildReport;
import io.blockmover.index.maintenance.Retention;
import io.blockmover.index.maintenance.RepositoryStats;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.maintenance.VerifyReport;
import io.blockmover.index.pack.LocalPackStore;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.RepositoryConfig;
import io.blockmover.index.repo.internal.RepoInternals;

import static org.junit.jupiter.api.Assertions.*;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Frames (format 3): consecutive new chunks of a disk compressed together, each chunk's index
 * entry pointing into its frame, through every layer that reads or moves records.
 */
class FramesTest {
    static final int CHUNK = Fixtures.CHUNK;
    static final int FRAME_CHUNKS = 8;

    @TempDir
    Path dir;

    static InitOptions framed() {
        return InitOptions.defaults().withChunkSize(CHUNK).withFrameSize(FRAME_CHUNKS * CHUNK).withPackTargetSize(1 << 20);
    }

    /** Chunk i's content: text (compresses) for a seed above 0, random for a negative one, zeros for 0. */
    static byte[] content(long seed) {
        return seed == 0 ? new byte[CHUNK] : TestData.bytes(seed > 0 ? Kind.TEXT : Kind.RANDOM, Math.abs(seed), CHUNK);
    }

    /** A full backup of {@code chunks} chunks stored with putRun, {@code perRun} chunks per call. */
    static long backup(Repository repo, String vm, int chunks, int perRun, LongUnaryOperator seeds) throws Exception {
        try (BackupWriter w = repo.newBackup(BackupSpec.full(vm, vm))) {
            DiskWriter d = w.addDisk(new DiskSpec("disk0", (long) chunks * CHUNK, ""));
            for (int i = 0; i < chunks; i += perRun) {
                int n = Math.min(perRun, chunks - i);
                ByteBuffer run = ByteBuffer.allocateDirect(n * CHUNK);
                for (int k = 0; k < n; k++) {
                    run.put(content(seeds.applyAsLong(i + k)));
                }
                d.putRun((long) i * CHUNK, run.flip());
            }
            return w.commit();
        }
    }

    static void assertRestores(Repository repo, long id, LongUnaryOperator seeds) throws Exception {
        try (BackupReader r = repo.openBackup(id)) {
            DiskReader d = r.disk("disk0");
            ByteBuffer got = ByteBuffer.allocate(CHUNK);
            // Backwards: each frame's last chunk first, so a first read decodes the whole frame
            // and the reads of its other chunks come from the decoded frame; then forwards again
            // in a fresh reader, where the first read of a frame decodes a prefix only.
            for (long off = d.capacity() - CHUNK; off >= 0; off -= CHUNK) {
                got.clear();
                d.read(off, got);
                assertArrayEquals(content(seeds.applyAsLong((int) (off / CHUNK))), got.array(), "offset " + off);
            }
        }
        try (BackupReader r = repo.openBackup(id)) {
            DiskReader d = r.disk("disk0");
            ByteBuffer got = ByteBuffer.allocateDirect(CHUNK);
            byte[] bytes = new byte[CHUNK];
            for (long off = 0; off < d.capacity(); off += CHUNK) {
                got.clear();
                d.read(off, got);
                got.flip().get(bytes);
                assertArrayEquals(content(seeds.applyAsLong((int) (off / CHUNK))), bytes, "offset " + off);
            }
        }
    }

    static ChunkLocation location(Repository repo, long backup, int chunk) {
        return RepoInternals.context(repo).db().location(Fixtures.chunkAt(repo, backup, (long) chunk * CHUNK));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void framesOfOneToEightChunksRoundTripPlainAndEncrypted(int n) throws Exception {
        for (boolean encrypted : new boolean[] {false, true}) {
            Path root = dir.resolve("r" + n + encrypted);
            InitOptions options = encrypted ? framed().withPassphrase("pw".toCharArray(), 1000) : framed();
            LongUnaryOperator seeds = i -> 100 + i;
            try (Repository repo = Repository.init(root, options)) {
                long id = backup(repo, "vm", n, n, seeds);
                Set<Long> records = new HashSet<>();
                for (int i = 0; i < n; i++) {
                    ChunkLocation loc = location(repo, id, i);
                    assertEquals(n > 1, loc.framed(), "chunk " + i + " of " + n);
                    if (n > 1) {
                        assertEquals((long) i * CHUNK, loc.frameOffset());
                        assertEquals(n * CHUNK, loc.framePlainLength());
                    }
                    records.add(loc.offset());
                }
                assertEquals(1, records.size(), "one record holds all " + n + " chunks");
                assertRestores(repo, id, seeds);
                VerifyReport v = new Verifier(repo).run(2);
                assertTrue(v.ok(), v.toString());
                assertEquals(n, v.chunksChecked());
                assertEquals((long) n * CHUNK, v.bytesChecked());
            }
            try (Repository repo = Repository.open(root, encrypted ? "pw".toCharArray() : null)) {
                assertRestores(repo, repo.backups().getFirst().id(), seeds);
            }
        }
    }

    @Test
    void lz4AndAutoFramesRoundTrip() throws Exception {
        for (String codec : new String[] {"lz4", "auto:3"}) {
            try (Repository repo = Repository.init(dir.resolve(codec.replace(':', '-')),
                    framed().withCompression(io.blockmover.index.chunk.Compression.parse(codec)))) {
                LongUnaryOperator seeds = i -> 100 + i;
                long id = backup(repo, "vm", 16, 8, seeds);
                ChunkLocation loc = location(repo, id, 9);
                assertTrue(loc.framed());
                assertEquals(8 * CHUNK, loc.framePlainLength());
                assertRestores(repo, id, seeds);
                assertTrue(new Verifier(repo).run(2).ok(), codec);
            }
        }
    }

    /**
     * Sub-chunk dedup and frames together: a compressible file is backed up into frames, then a
     * copy of it at a 4 KiB shift becomes recipes whose sources sit in those frames; both
     * restore and verify, also after rebuild-index.
     */
    @Test
    void recipesWhoseSourcesSitInFramesRestoreAndVerify() throws Exception {
        Path root = dir.resolve("r");
        int file = 10 * CHUNK;
        byte[] text = TestData.bytes(Kind.TEXT, 77, file);
        byte[] original = new byte[24 * CHUNK];
        byte[] copy = new byte[24 * CHUNK];
        System.arraycopy(TestData.bytes(Kind.TEXT, 1, original.length), 0, original, 0, original.length);
        System.arraycopy(TestData.bytes(Kind.TEXT, 2, copy.length), 0, copy, 0, copy.length);
        System.arraycopy(text, 0, original, 0, file);
        System.arraycopy(text, 0, copy, 5 * CHUNK + (12 << 10), file);
        long a;
        long b;
        try (Repository repo = Repository.init(root, framed().withSubchunkDedup(true))) {
            a = backupImage(repo, "vmA", original);
            b = backupImage(repo, "vmB", copy);
            assertTrue(location(repo, a, 0).framed(), "the file's chunks are in frames");
            List<ChunkId> recipes = SubchunkDedupTest.recipes(repo);
            assertTrue(recipes.size() >= 5, "recipes: " + recipes.size());
            RepositoryStats stats = RepositoryStats.of(repo);
            assertEquals(recipes.size(), stats.recipeChunks(), "stats count the recipes");
            assertTrue(stats.framedChunks() >= 20, "stats count the framed chunks: " + stats.framedChunks());
            assertImage(repo, a, original);
            assertImage(repo, b, copy);
            VerifyReport v = new Verifier(repo).run(2);
            assertTrue(v.ok(), v.toString());
        }
        RebuildReport report = IndexRebuilder.rebuild(root, null);
        assertEquals(2, report.backupsRecovered(), report.toString());
        try (Repository repo = Repository.open(root, null)) {
            assertImage(repo, a, original);
            assertImage(repo, b, copy);
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    static long backupImage(Repository repo, String vm, byte[] image) throws Exception {
        try (BackupWriter w = repo.newBackup(BackupSpec.full(vm, vm))) {
            DiskWriter d = w.addDisk(new DiskSpec("disk0", image.length, ""));
            ByteBuffer run = ByteBuffer.allocateDirect(FRAME_CHUNKS * CHUNK);
            for (int off = 0; off < image.length; off += FRAME_CHUNKS * CHUNK) {
                int n = Math.min(FRAME_CHUNKS * CHUNK, image.length - off);
                d.putRun(off, run.clear().put(image, off, n).flip());
            }
            return w.commit();
        }
    }

    static void assertImage(Repository repo, long id, byte[] image) throws Exception {
        try (BackupReader r = repo.openBackup(id)) {
            DiskReader d = r.disk("disk0");
            ByteBuffer got = ByteBuffer.allocate(CHUNK);
            for (int off = image.length - CHUNK; off >= 0; off -= CHUNK) {
                d.read(off, got.clear());
                assertArrayEquals(java.util.Arrays.copyOfRange(image, off, off + CHUNK), got.array(), "backup " + id + " offset " + off);
            }
        }
    }

    @Test
    void zerosDuplicatesAndIncompressibleChunksStayOutOfFrames() throws Exception {
        try (Repository repo = Repository.init(dir.resolve("r"), framed())) {
            LongUnaryOperator first = i -> 100 + i;
            long a = backup(repo, "vm", 8, 8, first);
            // Chunk 0 zero, 1 and 2 duplicates of the first backup's, 3 random, 4..7 new text.
            LongUnaryOperator second = i -> switch ((int) i) {
                case 0 -> 0;
                case 1, 2 -> 100 + i;
                case 3 -> -7;
                default -> 500 + i;
            };
            RunOutcome[] outcome = new RunOutcome[1];
            long b;
            try (BackupWriter w = repo.newBackup(BackupSpec.full("vm2", "vm2"))) {
                DiskWriter d = w.addDisk(new DiskSpec("disk0", 8L * CHUNK, ""));
                ByteBuffer run = ByteBuffer.allocateDirect(8 * CHUNK);
                for (int k = 0; k < 8; k++) {
                    run.put(content(second.applyAsLong(k)));
                }
                outcome[0] = d.putRun(0, run.flip());
                b = w.commit();
            }
            RunOutcome r = outcome[0];
            assertEquals(1, r.zeroChunks());
            assertEquals(2, r.duplicateChunks());
            assertEquals(5, r.newChunks());
            assertEquals(5L * CHUNK, r.newBytes());
            assertFalse(location(repo, b, 3).framed(), "random data is stored raw in a record of its own");
            assertEquals(location(repo, a, 1), location(repo, b, 1), "a duplicate keeps its place in the first frame");
            ChunkLocation f4 = location(repo, b, 4);
            assertTrue(f4.framed());
            assertEquals(0, f4.frameOffset());
            assertEquals(4 * CHUNK, f4.framePlainLength());
            assertEquals(f4.offset(), location(repo, b, 7).offset());
            assertRestores(repo, b, second);
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    @Test
    void aDamagedFrameIsReportedForItsChunksOnly() throws Exception {
        Path root = dir.resolve("r");
        LongUnaryOperator seeds = i -> 100 + i;
        long id;
        ChunkLocation damagedFrame;
        Set<String> expected = new HashSet<>();
        try (Repository repo = Repository.init(root, framed())) {
            id = backup(repo, "vm", 24, 8, seeds); // three frames of eight chunks
            damagedFrame = location(repo, id, 8);
            for (int i = 8; i < 16; i++) {
                expected.add(Fixtures.chunkAt(repo, id, (long) i * CHUNK).hex());
            }
        }
        try (LocalPackStore packs = new LocalPackStore(root.resolve("packs"));
             RandomAccessFile f = new RandomAccessFile(packs.pathOf(damagedFrame.packId()).toFile(), "rw")) {
            long at = damagedFrame.offset() + PackFormat.RECORD_HEADER + damagedFrame.payloadLength() / 2;
            f.seek(at);
            int v = f.read();
            f.seek(at);
            f.write(v ^ 0x10);
        }
        try (Repository repo = Repository.open(root, null)) {
            VerifyReport v = new Verifier(repo).run(2);
            Set<String> damaged = new HashSet<>();
            for (DamagedChunk c : v.damaged()) {
                damaged.add(c.chunkId());
                assertEquals("payload checksum mismatch", c.reason());
                assertEquals(1, c.usedBy().size());
            }
            assertEquals(expected, damaged);
            assertEquals(Set.of(id), v.brokenBackups());
            try (BackupReader r = repo.openBackup(id)) {
                DiskReader d = r.disk("disk0");
                for (int i = 0; i < 24; i++) {
                    ByteBuffer got = ByteBuffer.allocate(CHUNK);
                    long off = (long) i * CHUNK;
                    if (i >= 8 && i < 16) {
                        assertThrows(ChunkDamagedException.class, () -> d.read(off, got), "chunk " + i);
                    } else {
                        d.read(off, got);
                        assertArrayEquals(content(seeds.applyAsLong(i)), got.array(), "chunk " + i);
                    }
                }
            }
        }
    }

    @Test
    void gcCompactsAPartlyLiveFrameDownToItsLiveChunks() throws Exception {
        Path root = dir.resolve("r");
        try (Repository repo = Repository.init(root, framed())) {
            LongUnaryOperator old = i -> 100 + i;
            long a = backup(repo, "vm", 8, 8, old); // one frame of chunks 100..107
            // The second backup shares chunks 2 and 5 of that frame and adds six of its own.
            LongUnaryOperator keep = i -> i == 2 ? 102 : i == 5 ? 105 : 700 + i;
            long b = backup(repo, "vm", 8, 8, keep);
            ChunkLocation before = location(repo, b, 2);
            assertEquals(location(repo, a, 2), before);
            new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, false);
            GcReport gc = new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(0.9));
            assertEquals(6, gc.deletedChunkEntries(), gc.toString());
            ChunkLocation c2 = location(repo, b, 2);
            ChunkLocation c5 = location(repo, b, 5);
            assertNotEquals(before.packId(), c2.packId(), "the frame's pack was compacted");
            assertTrue(c2.framed(), "the two live chunks were re-encoded as one frame");
            assertEquals(c2.offset(), c5.offset());
            assertEquals(2 * CHUNK, c2.framePlainLength());
            assertEquals(CHUNK, c5.frameOffset());
            assertFalse(Files.exists(new LocalPackStore(root.resolve("packs")).pathOf(before.packId())), "the old pack is gone");
            assertRestores(repo, b, keep);
            VerifyReport v = new Verifier(repo).run(2);
            assertTrue(v.ok(), v.toString());
            assertEquals(8, v.chunksChecked());
        }
    }

    @Test
    void gcMovesAWhollyLiveFrameAsItIs() throws Exception {
        Path root = dir.resolve("r");
        try (Repository repo = Repository.init(root, framed())) {
            // One backup, two frames in one pack; the next keeps the first frame's chunks only.
            long a = backup(repo, "vm", 16, 8, i -> i < 8 ? 100 + i : 300 + i);
            LongUnaryOperator kept = i -> i < 8 ? 100 + i : 0;
            long b = backup(repo, "vm", 16, 8, kept);
            ChunkLocation before = location(repo, a, 0);
            assertEquals(before.packId(), location(repo, a, 8).packId(), "both frames share one pack");
            new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, false);
            GcReport gc = new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(0.9));
            assertEquals(8, gc.deletedChunkEntries(), gc.toString());
            ChunkLocation after = location(repo, b, 0);
            assertNotEquals(before.packId(), after.packId());
            assertEquals(before.payloadLength(), after.payloadLength(), "copied byte for byte, not re-encoded");
            assertEquals(8 * CHUNK, after.framePlainLength());
            assertRestores(repo, b, kept);
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    @Test
    void rebuildIndexRestoresFramedEntries() throws Exception {
        Path root = dir.resolve("r");
        LongUnaryOperator seeds = i -> i % 5 == 4 ? -i : 100 + i; // frames broken by raw chunks
        long id;
        Map<ChunkId, ChunkLocation> before = new HashMap<>();
        try (Repository repo = Repository.init(root, framed())) {
            id = backup(repo, "vm", 20, 8, seeds);
            for (int i = 0; i < 20; i++) {
                ChunkId c = Fixtures.chunkAt(repo, id, (long) i * CHUNK);
                before.put(c, RepoInternals.context(repo).db().location(c));
            }
        }
        RebuildReport report = IndexRebuilder.rebuild(root);
        assertEquals(1, report.backupsRecovered(), report.toString());
        assertEquals(20, report.chunkRecords());
        try (Repository repo = Repository.open(root, null)) {
            for (Map.Entry<ChunkId, ChunkLocation> e : before.entrySet()) {
                assertEquals(e.getValue(), RepoInternals.context(repo).db().location(e.getKey()));
            }
            assertRestores(repo, id, seeds);
            assertTrue(new Verifier(repo).run(2).ok());
            assertEquals(RepositoryConfig.FORMAT_VERSION, repo.config().formatVersion());
        }
    }

    @Test
    void singleChunkFramesKeepFormatTwoThatOlderBuildsRead() throws Exception {
        Path root = dir.resolve("r");
        LongUnaryOperator seeds = i -> 100 + i;
        try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(CHUNK).withSubchunkDedup(false))) {
            assertEquals(CHUNK, repo.config().frameSize(), "default: one chunk per record");
            long id = backup(repo, "vm", 8, 8, seeds);
            for (int i = 0; i < 8; i++) {
                assertFalse(location(repo, id, i).framed());
            }
        }
        String config = Files.readString(root.resolve("config"), StandardCharsets.UTF_8);
        assertTrue(config.contains("formatVersion=2\n"), config);
        assertFalse(config.contains("frameSize"), "a format-2 config, as builds before frames write it");
        try (Repository repo = Repository.open(root, null)) {
            assertRestores(repo, repo.backups().getFirst().id(), seeds);
        }
        Path framedRoot = dir.resolve("f");
        try (Repository repo = Repository.init(framedRoot, framed())) {
            assertEquals(RepositoryConfig.FORMAT_VERSION, repo.config().formatVersion());
        }
        String framedConfig = Files.readString(framedRoot.resolve("config"), StandardCharsets.UTF_8);
        assertTrue(framedConfig.contains("formatVersion=4\n") && framedConfig.contains("frameSize=" + FRAME_CHUNKS * CHUNK + "\n"),
                framedConfig);
    }

    @Test
    void frameSizesThatAreNoMultipleOfTheChunkAreRefused() {
        assertThrows(RuntimeException.class, () -> Repository.init(dir.resolve("a"), framed().withFrameSize(CHUNK * 3 / 2)));
        assertThrows(RuntimeException.class, () -> Repository.init(dir.resolve("b"), framed().withFrameSize(8 << 20)));
        assertThrows(RuntimeException.class, () -> Repository.init(dir.resolve("c"), framed().withFrameSize(CHUNK / 2)));
    }

    @Test
    void concurrentReadersOfOneFrameDecodeItCorrectly() throws Exception {
        try (Repository repo = Repository.init(dir.resolve("r"), framed())) {
            LongUnaryOperator seeds = i -> 100 + i;
            long id = backup(repo, "vm", 64, 8, seeds);
            try (BackupReader r = repo.openBackup(id)) {
                DiskReader d = r.disk("disk0");
                List<Thread> threads = new ArrayList<>();
                List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
                for (int t = 0; t < 4; t++) {
                    int start = t;
                    threads.add(Thread.ofPlatform().start(() -> {
                        try {
                            ByteBuffer got = ByteBuffer.allocate(CHUNK);
                            for (int i = start; i < 64; i += 4) {
                                got.clear();
                                d.read((long) i * CHUNK, got);
                                assertArrayEquals(content(seeds.applyAsLong(i)), got.array());
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
            }
        }
    }
}
