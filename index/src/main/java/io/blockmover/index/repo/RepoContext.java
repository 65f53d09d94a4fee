package io.blockmover.index.repo;

import io.blockmover.index.chunk.CodecPool;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.manifest.ManifestStore;
import io.blockmover.index.pack.PackStore;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The parts of an open repository that writers, readers and maintenance share. Handed out by
 * {@link Repository}; not for use by other modules.
 */
public record RepoContext(Path root, RepositoryConfig config, IndexDb db, ManifestStore manifests, PackStore packs,
                          CodecPool codecs, MaintenanceGate gate, GcFence fence, ReaderEpochs readers,
                          PacksInProgress packsInProgress, AtomicLong nextBackupId, Path tmpDir,
                          SecureRandom random, boolean readOnly) {

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
