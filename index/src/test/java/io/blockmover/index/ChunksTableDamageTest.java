package io.blockmover.index;

import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.maintenance.DamagedChunk;
import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.IndexRebuilder;
import io.blockmover.index.maintenance.RepositoryStats;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.maintenance.VerifyReport;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.internal.RepoInternals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.LongUnaryOperator;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chunks CF's tables (PlainTable, FORMAT.md) carry no block checksums: bytes flipped inside
 * them on disk must still be found by verify, which checks every entry against the record it points
 * to and every manifest entry against the index, and repaired by rebuild-index.
 */
class ChunksTableDamageTest {
    static final int N = 20;
    static final LongUnaryOperator A = i -> 700 + i;

    @TempDir
    Path dir;

    @Test
    void bytesFlippedInTheChunksTableAreFoundByVerifyAndRepairedByRebuild() throws Exception {
        Path root = dir.resolve("r");
        long id;
        ChunkId moved;
        ChunkLocation movedAt;
        ChunkId renamed;
        ChunkLocation renamedAt;
        try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(Fixtures.CHUNK))) {
            id = Fixtures.backup(repo, "vmA", N, A);
            moved = Fixtures.chunkAt(repo, id, 3L * Fixtures.CHUNK);
            movedAt = RepoInternals.context(repo).db().location(moved);
            renamed = Fixtures.chunkAt(repo, id, 7L * Fixtures.CHUNK);
            renamedAt = RepoInternals.context(repo).db().location(renamed);
            RepoInternals.context(repo).db().flushAndCompact();
        }
        // A flip in an entry's value (the low byte of the record offset) and one in another entry's key.
        Row m = row(root, moved, movedAt);
        flip(m.table(), m.locationAt() + 15, 0x40);
        Row r = row(root, renamed, renamedAt);
        flip(r.table(), r.keyAt() + 20, 0x01);
        byte[] k = renamed.bytes().clone();
        k[20] ^= 0x01;
        ChunkId renamedTo = ChunkId.wrap(k);

        try (Repository repo = Repository.open(root, null)) {
            byte[] scratch = new byte[ChunkLocation.ENCODED];
            assertFalse(RepoInternals.context(repo).db().contains(renamed, scratch), "a renamed entry is not found under its old key");
            assertNotEquals(movedAt, RepoInternals.context(repo).db().location(moved));
            VerifyReport report = new Verifier(repo).run(1);
            assertFalse(report.ok());
            Set<String> damaged = report.damaged().stream().map(DamagedChunk::chunkId).collect(Collectors.toSet());
            assertEquals(Set.of(moved.hex(), renamed.hex(), renamedTo.hex()), damaged, report.toString());
            assertEquals(Set.of(id), report.brokenBackups());
        }
        assertEquals(1, IndexRebuilder.rebuild(root).backupsRecovered());
        try (Repository repo = Repository.open(root, null)) {
            assertTrue(new Verifier(repo).run(1).ok());
            Fixtures.assertRestores(repo, id, A);
        }
    }

    /**
     * A row whose value length is damaged stops a scan of the table with an error, and an
     * iterator then just says "not valid", as at the end. gc must fail rather than take every
     * chunk after that row for garbage (with small packs, whole packs of live chunks); stats and
     * verify must fail rather than report a part as the whole.
     */
    @Test
    void aScanStoppedByADamagedRowFailsInsteadOfPassingForComplete() throws Exception {
        Path root = dir.resolve("s");
        ChunkId hit;
        ChunkLocation hitAt;
        try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(Fixtures.CHUNK)
                .withPackTargetSize(2L * Fixtures.CHUNK))) {
            long id = Fixtures.backup(repo, "vmA", N, A);
            hit = Fixtures.chunkAt(repo, id, 3L * Fixtures.CHUNK);
            hitAt = RepoInternals.context(repo).db().location(hit);
            RepoInternals.context(repo).db().flushAndCompact();
        }
        Row r = row(root, hit, hitAt);
        // The varint right after the fixed-size key is the value's length: make it run past the file.
        for (int i = 0; i < 4; i++) {
            flip(r.table(), r.keyAt() + ChunkId.LENGTH + i, 0x80);
        }
        List<Path> packsBefore = packs(root);

        try (Repository repo = Repository.open(root, null)) {
            RepositoryException gc = assertThrows(RepositoryException.class,
                    () -> new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO)));
            assertTrue(gc.getMessage().contains("damaged index"), gc.getMessage());
            assertThrows(RepositoryException.class, () -> RepositoryStats.of(repo));
            assertThrows(RepositoryException.class, () -> new Verifier(repo).run(1));
        }
        assertEquals(packsBefore, packs(root), "gc deleted packs after a scan it could not finish");
    }

    private static List<Path> packs(Path root) throws Exception {
        try (Stream<Path> s = Files.walk(root.resolve("packs"))) {
            return s.filter(Files::isRegularFile).sorted().toList();
        }
    }

    /** Where an entry lies in the one table file that holds it: its key, and its location after it. */
    private record Row(Path table, int keyAt, int locationAt) {
    }

    private static Row row(Path root, ChunkId key, ChunkLocation at) throws Exception {
        List<Row> rows = new ArrayList<>();
        try (Stream<Path> s = Files.list(root.resolve("index"))) {
            for (Path p : s.filter(p -> p.toString().endsWith(".sst")).toList()) {
                byte[] data = Files.readAllBytes(p);
                int loc = indexOf(data, at.encode());
                for (int i = Math.max(0, loc - 48); loc >= 0 && i < loc; i++) {
                    if (Arrays.equals(data, i, i + ChunkId.LENGTH, key.bytes(), 0, ChunkId.LENGTH)) {
                        rows.add(new Row(p, i, loc));
                        break;
                    }
                }
            }
        }
        assertEquals(1, rows.size(), "rows of " + key.hex());
        return rows.get(0);
    }

    private static void flip(Path table, int at, int mask) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(table.toFile(), "rw")) {
            f.seek(at);
            int v = f.read();
            f.seek(at);
            f.write(v ^ mask);
        }
    }

    private static int indexOf(byte[] data, byte[] what) {
        for (int i = 0; i + what.length <= data.length; i++) {
            if (Arrays.equals(data, i, i + what.length, what, 0, what.length)) {
                return i;
            }
        }
        return -1;
    }
}
