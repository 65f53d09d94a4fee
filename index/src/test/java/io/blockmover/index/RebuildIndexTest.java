package io.blockmover.index;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.IndexRebuilder;
import io.blockmover.index.maintenance.Pruner;
import io.blockmover.index.maintenance.RebuildReport;
import io.blockmover.index.maintenance.Retention;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.internal.RepoInternals;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.Comparator;
import java.util.List;
import java.util.function.LongUnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RebuildIndexTest {
    static final int N = 30;

    @TempDir
    Path dir;

    @Test
    void aDeletedIndexFileIsAClearErrorAndRebuildRepairsIt() throws Exception {
        Path root = dir.resolve("r");
        LongUnaryOperator a = i -> 300 + i;
        long id;
        try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(Fixtures.CHUNK).withPackTargetSize(256 << 10))) {
            id = Fixtures.backup(repo, "vmA", N, a);
            RepoInternals.context(repo).db().flushAndCompact();
        }
        Path sst;
        try (Stream<Path> s = Files.list(root.resolve("index"))) {
            sst = s.filter(p -> p.toString().endsWith(".sst")).findFirst().orElseThrow();
        }
        Files.delete(sst);
        RepositoryException e = assertThrows(RepositoryException.class, () -> Repository.open(root, null));
        assertTrue(e.getMessage().startsWith("cannot open the index"), e.getMessage());
        RebuildReport report = IndexRebuilder.rebuild(root);
        assertEquals(1, report.backupsRecovered(), report.toString());
        try (Repository repo = Repository.open(root, null)) {
            Fixtures.assertRestores(repo, id, a);
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    @Test
    void aLostIndexIsRebuiltFromPacksAlone() throws Exception {
        Path root = dir.resolve("r");
        LongUnaryOperator a1 = i -> 100 + i;
        LongUnaryOperator a2 = i -> i == 7 ? 0 : 100 + i;
        LongUnaryOperator a3 = i -> i % 10 == 0 ? 5_000 + i : 100 + i;
        LongUnaryOperator b = i -> 200 + i;
        List<BackupRecord> expected;
        long a3Id;
        try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(Fixtures.CHUNK).withPackTargetSize(256 << 10))) {
            long first = Fixtures.backup(repo, "vmA", N, a1);
            Fixtures.backup(repo, "vmA", N, a2);
            a3Id = Fixtures.backup(repo, "vmA", N, a3);
            Fixtures.backup(repo, "vmB", N, b);
            // An aborted backup leaves sealed packs of chunks nobody uses.
            try (BackupWriter w = repo.newBackup(BackupSpec.full("vmC", ""))) {
                DiskWriter d = w.addDisk(new DiskSpec("disk0", 20L * Fixtures.CHUNK, ""));
                ByteBuffer buf = ByteBuffer.allocateDirect(Fixtures.CHUNK);
                for (int i = 0; i < 20; i++) {
                    d.put((long) i * Fixtures.CHUNK, TestData.fill(buf, Kind.RANDOM, 77_000 + i, Fixtures.CHUNK));
                }
                w.abort();
            }
            // Pruned backups must not come back.
            new Pruner(repo).run(new Retention(2, 0, 0, 0, 0), ZoneOffset.UTC, false);
            expected = repo.backups();
            assertFalse(expected.stream().anyMatch(x -> x.id() == first));
            // And a wrong index entry, which a rebuild repairs.
            ChunkId x = Fixtures.chunkAt(repo, a3Id, 3L * Fixtures.CHUNK);
            ChunkId y = Fixtures.chunkAt(repo, a3Id, 4L * Fixtures.CHUNK);
            RepoInternals.context(repo).db().rocks().put(RepoInternals.context(repo).db().chunks(), x.bytes(), RepoInternals.context(repo).db().location(y).encode());
            assertFalse(new Verifier(repo).run(1).ok());
        }
        try (Stream<Path> s = Files.walk(root.resolve("index"))) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
        RepositoryException missing = assertThrows(RepositoryException.class, () -> Repository.open(root, null));
        assertTrue(missing.getMessage().contains("rebuild-index"), missing.getMessage());
        RebuildReport report = IndexRebuilder.rebuild(root);
        assertEquals(expected.size(), report.backupsRecovered(), report.toString());
        assertEquals(0, report.damagedRecords());
        try (Repository repo = Repository.open(root, null)) {
            assertEquals(expected, repo.backups());
            Fixtures.assertRestores(repo, expected.get(0).id(), a2);
            Fixtures.assertRestores(repo, a3Id, a3);
            Fixtures.assertRestores(repo, expected.get(2).id(), b);
            assertTrue(new Verifier(repo).run(2).ok());
            // The rebuilt index also indexed the aborted backup's chunks; gc drops them and the pruned backup's.
            assertTrue(new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO)).deletedChunkEntries() > 0);
            Fixtures.assertRestores(repo, a3Id, a3);
            long after = Fixtures.backup(repo, "vmA", N, a1);
            Fixtures.assertRestores(repo, after, a1);
            assertTrue(after > a3Id, "new ids continue after the recovered ones");
        }
    }
}
