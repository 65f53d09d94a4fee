package io.blockmover.index.maintenance;

import io.blockmover.index.db.IndexDb;
import io.blockmover.index.db.IndexSnapshot;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.ManifestKeys;
import io.blockmover.index.manifest.ManifestStore;

import java.util.Map;
import org.rocksdb.RocksIterator;

/**
 * gc's mark: the chunk ids committed manifests use (as 64-bit digest prefixes, a few bytes per
 * chunk whatever the repository's size), and the index entries nothing uses, the candidates.
 */
final class GcMark {
    private GcMark() {
    }

    /** Adds every chunk id of {@code b}'s manifests to {@code marks}. */
    static void mark(ManifestStore manifests, BackupRecord b, LongHashSet marks) {
        for (DiskRecord d : b.disks()) {
            for (int s = 0; s < d.segments(); s++) {
                byte[] seg = manifests.segment(b.id(), d, s);
                for (int at = 0; at < seg.length; at += ManifestKeys.ENTRY) {
                    if (!ChunkId.isZeroMarker(seg, at)) {
                        marks.add(ChunkId.prefix(seg, at));
                    }
                }
            }
        }
    }

    /** The index entries at S0 that nothing committed at S0 uses, in packs older than the grace window. */
    static final class Candidates {
        final LongHashSet live;
        final Map<Long, Long> modified;
        final long oldBefore;
        final LongHashSet condemned = new LongHashSet();
        long count;

        Candidates(LongHashSet live, Map<Long, Long> modified, long oldBefore) {
            this.live = live;
            this.modified = modified;
            this.oldBefore = oldBefore;
        }

        /** A key that is no chunk id is junk nobody can dedup against; a malformed location stays for verify. */
        boolean test(byte[] k, byte[] v) {
            if (k.length != ChunkId.LENGTH) {
                return true;
            }
            if (live.contains(ChunkId.prefix(k, 0)) || !ChunkLocation.isEncodedLength(v.length)) {
                return false;
            }
            Long m = modified.get(ChunkLocation.decode(v, v.length).packId());
            return m != null && m < oldBefore;
        }

        /** Collects the condemned prefixes; returns how many entries are live. */
        long find(IndexSnapshot s0) {
            long liveEntries = 0;
            try (RocksIterator it = s0.iterator(s0.db().chunks())) {
                for (it.seekToFirst(); it.isValid(); it.next()) {
                    byte[] k = it.key();
                    if (test(k, it.value())) {
                        count++;
                        if (k.length == ChunkId.LENGTH) {
                            condemned.add(ChunkId.prefix(k, 0));
                        }
                    } else if (k.length == ChunkId.LENGTH && live.contains(ChunkId.prefix(k, 0))) {
                        liveEntries++;
                    }
                }
                IndexDb.checkScan(it, "gc's search for unreferenced chunks");
            }
            return liveEntries;
        }
    }
}
