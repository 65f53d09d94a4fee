package io.blockmover.index.backup;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.pack.PackWriter;

import java.io.IOException;
import java.util.List;

/**
 * What a repository shared by several processes (proxies writing one bucket) must tell the
 * others, and learn from them, at the points of the commit protocol where it matters. A
 * repository on a local disk has one process and no peers: {@link #NONE}.
 */
public interface RepositoryPeers {
    RepositoryPeers NONE = new RepositoryPeers() {
    };

    /** The lowest id this process may give a new backup: the ids of several processes must not collide. */
    default long firstBackupId() {
        return 1;
    }

    /** Folds in what the others published (chunk locations, backups, prunes, a gc's new index). */
    default void refresh() throws IOException {
    }

    /**
     * Like {@link #refresh()}, unless one began less than {@code maxAgeMillis} ago: for reads of
     * the catalog, which a job makes several times in a row before it starts.
     */
    default void refresh(long maxAgeMillis) throws IOException {
        refresh();
    }

    /** {@code packId} is durable and holds {@code entries}; called before this process publishes them to its own index. */
    default void packSealed(long packId, List<PackWriter.Entry> entries) throws IOException {
    }

    /** Makes {@code record} visible to every process; called after its manifest pack is durable, before the local catalog write. */
    default void committing(BackupRecord record) throws IOException {
    }

    /** Withdraws these backups from every process; called before prune deletes them locally. */
    default void pruning(List<Long> backupIds) throws IOException {
    }

    /** gc changed the index (swept and repointed entries) and is about to delete packs: publish the new index first. */
    default void indexRewritten(RepoContext ctx) throws IOException {
    }

    /** Held by a backup, restore or verify: excludes gc and prune of other processes, not each other. */
    default Lease shared(String what) throws IOException {
        return Lease.NONE;
    }

    /** Held by gc and prune: excludes every job of other processes. */
    default Lease exclusive(String what) throws IOException {
        return Lease.NONE;
    }

    /** Closes whatever the peers hold (lock refreshers, the object store's client). */
    default void close() throws IOException {
    }

    interface Lease extends AutoCloseable {
        Lease NONE = () -> { };

        @Override
        void close();
    }
}
