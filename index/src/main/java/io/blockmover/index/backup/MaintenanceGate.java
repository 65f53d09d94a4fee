package io.blockmover.index.backup;

import io.blockmover.index.format.RepositoryException;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.StampedLock;

/**
 * Keeps the repository open while anything uses it: backups, restores, verify, stats, prune and
 * gc all share it (they run beside each other; {@link GcFence} is what makes gc safe beside
 * writers and readers); only {@link Repository#close()} is exclusive, so the native index is
 * never freed under a user. A StampedLock because a writer is opened on one thread and
 * committed on another.
 */
public final class MaintenanceGate {
    private final StampedLock lock = new StampedLock();

    public MaintenanceGate() {
    }

    public long enterShared() {
        return lock.readLock();
    }

    public void exitShared(long stamp) {
        lock.unlockRead(stamp);
    }

    /** Waits for everything open to finish; fails clearly after {@code timeoutMillis}. */
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
