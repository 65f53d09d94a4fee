package io.blockmover.index.backup;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Packs created in this process whose fate is not yet settled: being written, or sealed but their
 * locations (or, for a manifest pack, the catalog record naming it) not yet in the index. No index
 * entry points at them yet, so only this set keeps gc, which runs beside writers, from deleting
 * them as dead. An entry leaves once the index refers to the pack, or the pack was abandoned.
 */
public final class PacksInProgress {
    private final Set<Long> packs = ConcurrentHashMap.newKeySet();

    public PacksInProgress() {
    }

    public void started(long packId) {
        packs.add(packId);
    }

    public void settled(long packId) {
        packs.remove(packId);
    }

    public Set<Long> snapshot() {
        return Set.copyOf(packs);
    }
}
