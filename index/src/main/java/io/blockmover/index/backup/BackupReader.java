package io.blockmover.index.backup;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.RepoContext;
import io.blockmover.index.repo.RepositoryException;

import java.util.concurrent.atomic.AtomicBoolean;

/** An open, committed backup to restore from. Thread-safe; close it to let maintenance run. */
public final class BackupReader implements AutoCloseable {
    private final RepoContext ctx;
    private final BackupRecord record;
    private final long gateStamp;
    private final AtomicBoolean closed = new AtomicBoolean();

    public BackupReader(RepoContext ctx, BackupRecord record, long gateStamp) {
        this.ctx = ctx;
        this.record = record;
        this.gateStamp = gateStamp;
    }

    public BackupRecord record() {
        return record;
    }

    public DiskReader disk(String diskId) {
        DiskRecord d = record.disk(diskId).orElseThrow(() ->
                new RepositoryException("backup " + record.id() + " has no disk " + diskId));
        return new DiskReader(ctx, record.id(), d);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            ctx.gate().exitShared(gateStamp);
        }
    }
}
