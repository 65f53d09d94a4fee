package io.blockmover.index;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.repo.Repository;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Child JVM of {@link CrashRecoveryTest}: writes backups into a repository forever, from two
 * threads, until it is killed. Every backup's content follows from the seed in its label, so the
 * parent can check any backup that became visible byte for byte.
 */
public final class CrashChild {
    static final int CHUNK = 64 << 10;

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        SplittableRandom r = new SplittableRandom(seed);
        try (Repository repo = Repository.open(root, null)) {
            System.out.println("READY");
            System.out.flush();
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
            }
        }
    }

    static Kind kind(long backupSeed, int i) {
        return i % 5 == 4 ? Kind.ZERO : i % 5 == 3 ? Kind.TEXT : Kind.RANDOM;
    }

    /** Half the chunks repeat across backups (dedup), half are new. */
    static long chunkSeed(long backupSeed, int i) {
        return i % 2 == 0 ? i : backupSeed * 10_000 + i;
    }
}
