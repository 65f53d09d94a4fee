package io.blockmover.index;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.Pruner;
import io.blockmover.index.maintenance.Retention;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.Repository;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Child JVM of {@link CrashRecoveryTest}: writes backups into a repository forever, from two
 * threads, until it is killed. Every backup's content follows from the seed in its label, so the
 * parent can check any backup that became visible byte for byte. With a third argument (a file),
 * it also prunes and collects garbage in a loop and restores committed backups in another, beside
 * the backups; a failure of either is written to that file and ends the child with status 3.
 */
public final class CrashChild {
    static final int CHUNK = 64 << 10;

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        SplittableRandom r = new SplittableRandom(seed);
        try (Repository repo = Repository.open(root, null)) {
            if (args.length > 2) {
                Path failures = Path.of(args[2]);
                beside(failures, () -> {
                    new Pruner(repo).run(new Retention(2, 0, 0, 0, 0), ZoneOffset.UTC, false);
                    new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(0.7));
                });
                SplittableRandom pick = new SplittableRandom(seed);
                beside(failures, () -> {
                    List<BackupRecord> all = repo.backups();
                    if (!all.isEmpty()) {
                        BackupRecord b = all.get(pick.nextInt(all.size()));
                        try {
                            CrashRecoveryTest.assertRestoresExactly(repo, b);
                        } catch (RepositoryException e) {
                            if (!e.getMessage().contains("does not exist")) { // pruned between the list and the open
                                throw e;
                            }
                        }
                    }
                });
            }
            for (long n = 0; ; n++) {
                long backupSeed = seed * 1000 + n;
                int chunks = 20 + r.nextInt(100);
                try (BackupWriter w = repo.newBackup(BackupSpec.full("vm" + (backupSeed % 3), "seed=" + backupSeed + ",chunks=" + chunks))) {
                    DiskWriter d = w.addDisk(new DiskSpec("disk0", (long) chunks * CHUNK, ""));
                    List<Thread> ts = new ArrayList<>();
                    for (int t = 0; t < 2; t++) {
                        int me = t;
                        ts.add(Thread.ofPlatform().start(() -> {
                            ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
                            try {
                                for (int i = me; i < chunks; i += 2) {
                                    d.put((long) i * CHUNK, TestData.fill(b, kind(backupSeed, i), chunkSeed(backupSeed, i), CHUNK));
                                }
                            } catch (Exception e) {
                                throw new RuntimeException(e);
                            }
                        }));
                    }
                    for (Thread t : ts) {
                        t.join();
                    }
                    w.commit();
                }
                if (n == 0) {
                    // Ready once one backup is committed: the kills then land in later backups, and
                    // a loaded machine cannot leave every run without a commit to check.
                    System.out.println("READY");
                    System.out.flush();
                }
            }
        }
    }

    private interface Round {
        void run() throws Throwable;
    }

    /** Runs {@code round} over and over on its own thread; its first failure ends the process. */
    private static void beside(Path failures, Round round) {
        Thread.ofPlatform().daemon().start(() -> {
            try {
                while (true) {
                    round.run();
                    Thread.sleep(10); // leave the backups some CPU on a small machine
                }
            } catch (Throwable t) {
                try {
                    java.io.StringWriter w = new java.io.StringWriter();
                    t.printStackTrace(new java.io.PrintWriter(w));
                    java.nio.file.Files.writeString(failures, w.toString());
                } catch (java.io.IOException ignored) {
                    // the exit status still tells
                }
                Runtime.getRuntime().halt(3);
            }
        });
    }

    static Kind kind(long backupSeed, int i) {
        return i % 5 == 4 ? Kind.ZERO : i % 5 == 3 ? Kind.TEXT : Kind.RANDOM;
    }

    /** Half the chunks repeat across backups (dedup), half are new. */
    static long chunkSeed(long backupSeed, int i) {
        return i % 2 == 0 ? i : backupSeed * 10_000 + i;
    }
}
