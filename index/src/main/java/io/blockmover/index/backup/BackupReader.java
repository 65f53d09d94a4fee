package io.blockmover.index.backup;

import io.blockmover.index.db.IndexSnapshot;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.ManifestStore;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An open, committed backup to restore from. Thread-safe. It reads the index as it was when it
 * opened (a snapshot), so prune and gc running meanwhile change nothing it sees; gc deletes a pack
 * it may read only after it is closed, so close it promptly.
 */
public final class BackupReader implements AutoCloseable {
    private final RepoContext ctx;
    private final BackupRecord record;
    private final long gateStamp;
    private final long ticket;
    private final IndexSnapshot snapshot;
    private final ManifestStore manifests;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final RepositoryPeers.Lease lease;

    /** Opened by the repository, which entered its gate, took a reader ticket and the snapshot for us. */
    public BackupReader(RepoContext ctx, BackupRecord record, long gateStamp, long ticket, IndexSnapshot snapshot, RepositoryPeers.Lease lease) {
        this.ctx = ctx;
        this.lease = lease;
        this.record = record;
        this.gateStamp = gateStamp;
        this.ticket = ticket;
        this.snapshot = snapshot;
        this.manifests = new ManifestStore(snapshot);
    }

    public BackupRecord record() {
        return record;
    }

    public DiskReader disk(String diskId) {
        DiskRecord d = record.disk(diskId).orElseThrow(() ->
                new RepositoryException("backup " + record.id() + " has no disk " + diskId));
        return new DiskReader(ctx, snapshot, manifests, record.id(), d);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            snapshot.close();
            ctx.readers().exit(ticket);
            ctx.gate().exitShared(gateStamp);
            lease.close();
        }
    }
}
