package io.blockmover.index;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.maintenance.ChunkRef;
import io.blockmover.index.maintenance.DamagedChunk;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.maintenance.VerifyReport;
import io.blockmover.index.pack.LocalPackStore;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.internal.RepoInternals;

import static org.junit.jupiter.api.Assertions.*;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongUnaryOperator;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damage packs and the index on purpose; verify must name exactly the damaged chunks and the
 * backups, disks and offsets that use them, and every other backup must still restore exactly.
 */
class VerifyDamageTest {
    static final int N = 40;
    static final LongUnaryOperator A = i -> 100 + i;
    static final LongUnaryOperator B = i -> i < 10 ? 100 + i : 200 + i; // shares chunks 0..9 with A
    static final LongUnaryOperator C = i -> i % 7 == 6 ? 0 : 300 + i;
    static final LongUnaryOperator D = i -> 400 + i;

    @TempDir
    Path dir;

    @Test
    void verifyNamesExactlyTheDamagedChunksAndTheirUsers() throws Exception {
        Path root = dir.resolve("r");
        long a;
        long b;
        long c;
        long d;
        Set<ChunkId> expected = new HashSet<>();
        Map<ChunkId, List<ChunkRef>> users;
        ChunkId flipped;
        ChunkId misplaced;
        ChunkLocation flippedLoc;
        ChunkLocation truncatedAt;
        try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(Fixtures.CHUNK).withPackTargetSize(256 << 10))) {
            a = Fixtures.backup(repo, "vmA", N, A);
            b = Fixtures.backup(repo, "vmB", N, B);
            c = Fixtures.backup(repo, "vmC", N, C);
            d = Fixtures.backup(repo, "vmD", N, D);
            assertTrue(new Verifier(repo).run(2).ok());
            users = Fixtures.users(repo);

            // 1. A bit flip in the payload of a chunk A shares with B.
            flipped = Fixtures.chunkAt(repo, a, 2L * Fixtures.CHUNK);
            flippedLoc = RepoInternals.context(repo).db().location(flipped);
            expected.add(flipped);
            // 2. A truncated pack: every record of C's chunk 22's pack from that record on.
            ChunkId inTruncated = Fixtures.chunkAt(repo, c, 22L * Fixtures.CHUNK);
            truncatedAt = RepoInternals.context(repo).db().location(inTruncated);
            for (ChunkId id : users.keySet()) {
                ChunkLocation l = RepoInternals.context(repo).db().location(id);
                if (l.packId() == truncatedAt.packId() && l.offset() >= truncatedAt.offset()) {
                    expected.add(id);
                }
            }
            // 3. A wrong index entry: A's chunk 30 points at A's chunk 31's record.
            misplaced = Fixtures.chunkAt(repo, a, 30L * Fixtures.CHUNK);
            ChunkLocation other = RepoInternals.context(repo).db().location(Fixtures.chunkAt(repo, a, 31L * Fixtures.CHUNK));
            RepoInternals.context(repo).db().rocks().put(RepoInternals.context(repo).db().chunks(), misplaced.bytes(), other.encode());
            expected.add(misplaced);
            // 4. A malformed index value.
            ChunkId malformed = Fixtures.chunkAt(repo, c, 5L * Fixtures.CHUNK);
            RepoInternals.context(repo).db().rocks().put(RepoInternals.context(repo).db().chunks(), malformed.bytes(), new byte[] {1, 2, 3});
            expected.add(malformed);
        }
        LocalPackStore packs = new LocalPackStore(root.resolve("packs"));
        try (RandomAccessFile f = new RandomAccessFile(packs.pathOf(flippedLoc.packId()).toFile(), "rw")) {
            long at = flippedLoc.offset() + PackFormat.RECORD_HEADER + flippedLoc.payloadLength() / 2;
            f.seek(at);
            int v = f.read();
            f.seek(at);
            f.write(v ^ 0x10);
        }
        try (RandomAccessFile f = new RandomAccessFile(packs.pathOf(truncatedAt.packId()).toFile(), "rw")) {
            f.setLength(truncatedAt.offset() + 100);
        }

        try (Repository repo = Repository.open(root, null)) {
            VerifyReport report = new Verifier(repo).run(2);
            Map<String, DamagedChunk> byId = report.damaged().stream().collect(Collectors.toMap(DamagedChunk::chunkId, x -> x));
            assertEquals(expected.stream().map(ChunkId::hex).collect(Collectors.toSet()), byId.keySet(), "exactly the damaged chunks");
            for (ChunkId id : expected) {
                assertEquals(new HashSet<>(users.get(id)), new HashSet<>(byId.get(id.hex()).usedBy()), "users of " + id);
            }
            assertEquals("payload checksum mismatch", byId.get(flipped.hex()).reason());
            assertEquals("location points to a record of another chunk", byId.get(misplaced.hex()).reason());
            assertTrue(report.damaged().stream().anyMatch(x -> x.reason().contains("truncated")), report.toString());
            assertTrue(report.damaged().stream().anyMatch(x -> x.reason().startsWith("index entry is malformed")), report.toString());
            assertEquals(Set.of(a, b, c), report.brokenBackups());
            // The flipped chunk's users: A and B at offset 2 chunks.
            assertEquals(Set.of(new ChunkRef(a, "vmA", "disk0", 2L * Fixtures.CHUNK), new ChunkRef(b, "vmB", "disk0", 2L * Fixtures.CHUNK)),
                    new HashSet<>(byId.get(flipped.hex()).usedBy()));

            Fixtures.assertRestores(repo, d, D);
            // Damaged chunks refuse to read; the rest of a broken backup still reads exactly.
            Map<Long, LongUnaryOperator> seeds = new HashMap<>(Map.of(a, A, b, B, c, C));
            for (long id : List.of(a, b, c)) {
                try (BackupReader r = repo.openBackup(id)) {
                    ByteBuffer got = ByteBuffer.allocate(Fixtures.CHUNK);
                    for (long off = 0; off < (long) N * Fixtures.CHUNK; off += Fixtures.CHUNK) {
                        ChunkId cid = r.disk("disk0").chunkAt(off);
                        got.clear();
                        if (cid != null && expected.contains(cid)) {
                            long o = off;
                            assertThrows(ChunkDamagedException.class, () -> r.disk("disk0").read(o, got));
                        } else {
                            r.disk("disk0").read(off, got);
                            long seed = seeds.get(id).applyAsLong((int) (off / Fixtures.CHUNK));
                            assertArrayEquals(TestData.bytes(seed == 0 ? TestData.Kind.ZERO : TestData.Kind.RANDOM, seed, Fixtures.CHUNK), got.array());
                        }
                    }
                }
            }
        }
    }
}
