package io.blockmover.index;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.maintenance.ChunkRef;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.Repository;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongUnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Backups whose chunk i is random data seeded by {@code seeds.applyAsLong(i)} (0 = a zero chunk). */
final class Fixtures {
    static final int CHUNK = 64 << 10;

    private Fixtures() {
    }

    static long backup(Repository repo, String vm, int chunks, LongUnaryOperator seeds) throws Exception {
        try (BackupWriter w = repo.newBackup(BackupSpec.full(vm, vm))) {
            DiskWriter d = w.addDisk(new DiskSpec("disk0", (long) chunks * CHUNK, ""));
            ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
            for (int i = 0; i < chunks; i++) {
                long seed = seeds.applyAsLong(i);
                d.put((long) i * CHUNK, TestData.fill(b, seed == 0 ? Kind.ZERO : Kind.RANDOM, seed, CHUNK));
            }
            return w.commit();
        }
    }

    static void assertRestores(Repository repo, long id, LongUnaryOperator seeds) throws Exception {
        try (BackupReader r = repo.openBackup(id)) {
            DiskReader d = r.disk("disk0");
            ByteBuffer got = ByteBuffer.allocate(CHUNK);
            for (long off = 0; off < d.capacity(); off += CHUNK) {
                got.clear();
                d.read(off, got);
                long seed = seeds.applyAsLong((int) (off / CHUNK));
                assertArrayEquals(TestData.bytes(seed == 0 ? Kind.ZERO : Kind.RANDOM, seed, CHUNK), got.array(), "backup " + id + " offset " + off);
            }
        }
    }

    /** Who uses which chunk, read from the manifests. */
    static Map<ChunkId, List<ChunkRef>> users(Repository repo) {
        Map<ChunkId, List<ChunkRef>> out = new HashMap<>();
        for (BackupRecord b : repo.backups()) {
            try (BackupReader r = repo.openBackup(b.id())) {
                DiskReader d = r.disk("disk0");
                for (long off = 0; off < d.capacity(); off += CHUNK) {
                    ChunkId id = d.chunkAt(off);
                    if (id != null) {
                        out.computeIfAbsent(id, k -> new ArrayList<>()).add(new ChunkRef(b.id(), b.vmId(), "disk0", off));
                    }
                }
            }
        }
        return out;
    }

    static ChunkId chunkAt(Repository repo, long backupId, long offset) {
        try (BackupReader r = repo.openBackup(backupId)) {
            return r.disk("disk0").chunkAt(offset);
        }
    }
}
