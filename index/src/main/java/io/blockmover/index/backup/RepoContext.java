package io.blockmover.index.backup;

import io.blockmover.index.chunk.CodecPool;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.manifest.ManifestStore;
import io.blockmover.index.pack.PackStore;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The parts of an open repository that writers, readers and maintenance share. Built by
 * {@code repo.Repository}, which keeps it to itself; not for use by other modules (the package
 * layering test holds mover to the repository's public face).
 */
public record RepoContext(Path root, int chunkSize, int frameSize, long packTargetSize, IndexDb db, ManifestStore manifests, PackStore packs,
                          CodecPool codecs, MaintenanceGate gate, GcFence fence, ReaderEpochs readers,
                          PacksInProgress packsInProgress, AtomicLong nextBackupId, Path tmpDir,
                          SecureRandom random, boolean readOnly, BackupHolds holds, RepositoryPeers peers) {

    /** Refuses {@code what} on a read-only open. */
    public void checkWritable(String what) {
        if (readOnly) {
            throw new RepositoryException("cannot " + what + ": the repository " + root + " is open read-only");
        }
    }

    /** Random 64-bit pack ids: no counter to persist, no reuse after a crash. */
    public long newPackId() {
        long id;
        do {
            id = random.nextLong();
        } while (id == 0);
        return id;
    }
}
