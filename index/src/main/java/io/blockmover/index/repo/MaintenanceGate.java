package io.blockmover.index.repo;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.StampedLock;

/**
 * Keeps gc, prune and compaction from running while backups are written or read. Writers and
 * readers share; maintenance is exclusive. This is gc's grace window in one process: whatever
 * an open writer deduplicated against cannot be swept under it. A StampedLock because a writer
 * is opened on one thread and committed on another.
 */
public final class MaintenanceGate {
    private final StampedLock lock = new StampedLock();

    public long enterShared() {
        return lock.readLock();
    }

    public void exitShared(long stamp) {
        lock.unlockRead(stamp);
    }

    /** Waits for open writers and readers to finish; fails clearly after {@code timeoutMillis}. */
    public long enterExclusive(long timeoutMillis, String what) {
        try {
            long stamp = lock.tryWriteLock(timeoutMillis, TimeUnit.MILLISECONDS);
            if (stamp == 0) {
                throw new RepositoryException(what + " waited " + timeoutMillis + " ms for backups and restores in progress to finish; try later");
            }
            return stamp;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RepositoryException(what + " interrupted while waiting for backups in progress");
        }
    }

    public void exitExclusive(long stamp) {
        lock.unlockWrite(stamp);
    }
}
