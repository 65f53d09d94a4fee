package io.blockmover.index;

import static org.junit.jupiter.api.Assertions.*;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real full filesystem (a 24 MiB tmpfs, so the test needs root, as CI has): a backup that runs
 * out of space fails with an error, nothing of it becomes visible, earlier backups still restore,
 * and once the failed backup's data is gone the repository takes new backups again.
 */
class DiskFullTest {
    @TempDir
    Path dir;

    @Test
    void backupThatFillsTheDiskFailsCleanly() throws Exception {
        assertEquals("0", run("id", "-u"), "this test mounts a small tmpfs to fill a real filesystem and must run as root (CI does)");
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        assertEquals("", run("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt.toString()));
        try {
            Path root = mnt.resolve("repo");
            LongUnaryOperator first = i -> 500 + i;
            long ok;
            // The 24 MiB filesystem leaves room for the plain index's recovery at reopen; sub-chunk dedup's
            // extra column families need a little more after the disk filled.
            try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(Fixtures.CHUNK).withPackTargetSize(1 << 20)
                    .withSubchunkDedup(false))) {
                ok = Fixtures.backup(repo, "vm1", 40, first);
                Exception failure = null;
                try (BackupWriter w = repo.newBackup(BackupSpec.full("vm2", "too big"))) {
                    int chunks = 800; // 50 MiB of random data into 24 MiB
                    DiskWriter d = w.addDisk(new DiskSpec("disk0", (long) chunks * Fixtures.CHUNK, ""));
                    ByteBuffer b = ByteBuffer.allocateDirect(Fixtures.CHUNK);
                    for (int i = 0; i < chunks; i++) {
                        d.put((long) i * Fixtures.CHUNK, TestData.fill(b, Kind.RANDOM, 7_000 + i, Fixtures.CHUNK));
                    }
                    w.commit();
                } catch (IOException | RuntimeException e) {
                    failure = e;
                }
                assertNotNull(failure, "50 MiB cannot fit in 24 MiB");
                assertTrue(String.valueOf(failure.getMessage()).toLowerCase().contains("space"), "the error says why: " + failure);
                assertEquals(1, repo.backups().size(), "nothing of the failed backup is visible");
            }
            try (Repository repo = Repository.open(root, null)) {
                assertEquals(1, repo.backups().size());
                Fixtures.assertRestores(repo, ok, first);
                assertTrue(new Verifier(repo).run(2).ok());
                // The failed backup's sealed packs are reclaimed; only the first backup's data stays.
                assertTrue(new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO)).freedBytes() > (10 << 20));
                assertTrue(io.blockmover.index.maintenance.RepositoryStats.of(repo).packBytes() < (3 << 20));
                long again = Fixtures.backup(repo, "vm3", 40, i -> 9_000 + i);
                Fixtures.assertRestores(repo, again, i -> 9_000 + i);
                Fixtures.assertRestores(repo, ok, first);
            }
        } finally {
            run("umount", "-l", mnt.toString());
        }
    }

    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor();
        return p.exitValue() == 0 ? out : "exit " + p.exitValue() + ": " + out;
    }
}
