package io.blockmover.index;

import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.GcReport;
import io.blockmover.index.maintenance.PruneReport;
import io.blockmover.index.maintenance.Pruner;
import io.blockmover.index.maintenance.RepositoryStats;
import io.blockmover.index.maintenance.Retention;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.internal.RepoInternals;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MaintenanceTest {
    static final int N = 30;

    @TempDir
    Path dir;

    /** Backup k of vm1: chunks 0..9 shared by all, 10..29 its own. */
    static LongUnaryOperator vm1(int k) {
        return i -> i < 10 ? 1000 + i : (k + 1) * 10_000L + i;
    }

    static final LongUnaryOperator VM2 = i -> i < 5 ? 10_000L + 10 + i : 90_000 + i; // shares 5 chunks with vm1's first backup

    @Test
    void pruneAndGcFreeExactlyWhatOnlyPrunedBackupsUsed() throws Exception {
        try (Repository repo = Repository.init(dir.resolve("r"), InitOptions.defaults().withChunkSize(Fixtures.CHUNK).withPackTargetSize(256 << 10))) {
            List<Long> ids = new ArrayList<>();
            for (int k = 0; k < 3; k++) {
                ids.add(Fixtures.backup(repo, "vm1", N, vm1(k)));
            }
            long other = Fixtures.backup(repo, "vm2", N, VM2);
            // Chunks only the first two vm1 backups use: their own 20 each, minus the 5 vm2 shares.
            Set<ChunkId> onlyPruned = new HashSet<>();
            long onlyPrunedBytes = 0;
            for (int k = 0; k < 2; k++) {
                for (int i = 10; i < N; i++) {
                    ChunkId id = Fixtures.chunkAt(repo, ids.get(k), (long) i * Fixtures.CHUNK);
                    if (k == 0 && i < 15) {
                        continue;
                    }
                    onlyPruned.add(id);
                    onlyPrunedBytes += RepoInternals.context(repo).db().location(id).recordLength();
                }
            }
            assertEquals(35, onlyPruned.size());
            RepositoryStats before = RepositoryStats.of(repo);

            PruneReport dry = new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, true);
            assertEquals(List.of(ids.get(0), ids.get(1)), dry.removed());
            assertEquals(4, repo.backups().size(), "a dry run deletes nothing");

            PruneReport prune = new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, false);
            assertEquals(List.of(ids.get(0), ids.get(1)), prune.removed());
            assertEquals(Set.of(ids.get(2), other), new HashSet<>(prune.kept()));
            assertEquals(List.of(ids.get(2), other), repo.backups().stream().map(BackupRecord::id).toList());

            GcReport gc = new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(1.0));
            assertEquals(35, gc.deletedChunkEntries());
            RepositoryStats after = RepositoryStats.of(repo);
            assertEquals(before.uniqueChunks() - 35, after.uniqueChunks());
            assertEquals(before.storedBytes() - onlyPrunedBytes, after.storedBytes(), "exactly the pruned-only chunks' bytes are gone");
            assertEquals(after.storedBytes() + (long) after.packs() * (PackFormat.FILE_HEADER + PackFormat.FOOTER), after.packBytes(),
                    "no dead byte is left in any pack");
            for (ChunkId id : onlyPruned) {
                assertNull(RepoInternals.context(repo).db().location(id));
            }
            Fixtures.assertRestores(repo, ids.get(2), vm1(2));
            Fixtures.assertRestores(repo, other, VM2);
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    @Test
    void gcWithoutCompactionKeepsPartlyLivePacksAndDropsDeadOnes() throws Exception {
        try (Repository repo = Repository.init(dir.resolve("r"), InitOptions.defaults().withChunkSize(Fixtures.CHUNK).withPackTargetSize(256 << 10))) {
            long first = Fixtures.backup(repo, "vm1", N, vm1(0));
            long second = Fixtures.backup(repo, "vm1", N, vm1(1));
            new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, false);
            GcReport gc = new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(0));
            assertEquals(20, gc.deletedChunkEntries());
            assertEquals(0, gc.compactedPacks());
            assertTrue(gc.deletedPacks() > 0, gc.toString());
            Fixtures.assertRestores(repo, second, vm1(1));
            assertTrue(repo.backup(first).isEmpty());
            // A grace window longer than the packs' age protects them.
            Fixtures.backup(repo, "vm3", N, i -> 70_000 + i);
            new Pruner(repo).run(new Retention(0, 0, 0, 0, 1), ZoneOffset.UTC, false); // one per VM per year
            assertEquals(0, new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ofHours(1))).deletedPacks());
        }
    }

    @Test
    void retentionKeepsNewestPerPeriod() {
        Instant base = Instant.parse("2026-01-01T12:00:00Z");
        List<BackupRecord> bs = new ArrayList<>();
        // Two backups a day for 400 days.
        for (int day = 0; day < 400; day++) {
            for (int h = 0; h < 2; h++) {
                long id = day * 2L + h + 1;
                bs.add(new BackupRecord(id, "vm", "", 0, base, base.plus(Duration.ofDays(day)).plus(Duration.ofHours(h * 6)), 0, List.of()));
            }
        }
        Set<Long> keepLast = new Retention(3, 0, 0, 0, 0).keep(bs, ZoneOffset.UTC);
        assertEquals(Set.of(800L, 799L, 798L), keepLast);
        Set<Long> daily = new Retention(0, 7, 0, 0, 0).keep(bs, ZoneOffset.UTC);
        assertEquals(Set.of(800L, 798L, 796L, 794L, 792L, 790L, 788L), daily, "the newest backup of each of the last 7 days");
        assertEquals(4, new Retention(0, 0, 4, 0, 0).keep(bs, ZoneOffset.UTC).size());
        Set<Long> monthly = new Retention(0, 0, 0, 12, 0).keep(bs, ZoneOffset.UTC);
        assertEquals(12, monthly.size());
        assertTrue(monthly.contains(800L));
        // Newest of 2026 = last backup on 2026-12-31 (day 364, second of the day).
        assertEquals(Set.of(800L, 730L), new Retention(0, 0, 0, 0, 5).keep(bs, ZoneOffset.UTC), "one per year, two years exist");
        assertThrows(IllegalArgumentException.class, () -> new Retention(0, 0, 0, 0, 0));
    }
}
