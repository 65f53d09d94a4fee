package io.blockmover.index.manifest;

import io.blockmover.index.db.IndexDb;
import io.blockmover.index.db.IndexSnapshot;
import io.blockmover.index.format.RepositoryException;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

/**
 * Reads the catalog and manifest segments, of the live index or of a snapshot of it; writes them
 * into batches.
 */
public final class ManifestStore {
    private final IndexDb db;
    /** Null: the live index. */
    private final IndexSnapshot at;

    public ManifestStore(IndexDb db) {
        this.db = db;
        this.at = null;
    }

    /** The catalog and manifests as {@code snapshot} saw them. */
    public ManifestStore(IndexSnapshot snapshot) {
        this.db = snapshot.db();
        this.at = snapshot;
    }

    private byte[] get(org.rocksdb.ColumnFamilyHandle cf, byte[] key) {
        return at == null ? db.get(cf, key) : at.get(cf, key);
    }

    public Optional<BackupRecord> backup(long id) {
        byte[] v = get(db.catalog(), ManifestKeys.catalogKey(id));
        return v == null ? Optional.empty() : Optional.of(BackupRecord.decode(v));
    }

    /** Every committed backup, oldest id first. The catalog is small: one record per restore point. */
    public List<BackupRecord> backups() {
        List<BackupRecord> out = new ArrayList<>();
        try (RocksIterator it = at == null ? db.iterator(db.catalog()) : at.iterator(db.catalog())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                out.add(BackupRecord.decode(it.value()));
            }
            IndexDb.checkScan(it, "reading the backup catalog");
        }
        return out;
    }

    /**
     * One segment of a disk's manifest: {@code entries} × 32 bytes, each a chunk id or 32 zero
     * bytes for a zero chunk. A missing or mis-sized segment is index damage.
     */
    public byte[] segment(long backupId, DiskRecord disk, int segment) {
        byte[] v = get(db.manifests(), ManifestKeys.manifestKey(backupId, disk.index(), segment));
        int want = entriesIn(disk, segment) * ManifestKeys.ENTRY;
        if (v == null || v.length != want) {
            throw new RepositoryException("manifest of backup " + backupId + " disk " + disk.diskId() + " segment " + segment
                    + (v == null ? " is missing" : " has " + v.length + " bytes, expected " + want));
        }
        return v;
    }

    public static int entriesIn(DiskRecord disk, int segment) {
        long first = (long) segment * ManifestKeys.SEGMENT_ENTRIES;
        return (int) Math.min(ManifestKeys.SEGMENT_ENTRIES, disk.chunkCount() - first);
    }

    public static void putSegment(WriteBatch batch, IndexDb db, long backupId, int disk, int segment, byte[] value, int length) {
        try {
            byte[] v = length == value.length ? value : java.util.Arrays.copyOf(value, length);
            batch.put(db.manifests(), ManifestKeys.manifestKey(backupId, disk, segment), v);
        } catch (org.rocksdb.RocksDBException e) {
            throw new RepositoryException("index batch failed: " + e.getMessage(), e);
        }
    }

    /** Deletes a backup's catalog entry and all its manifest segments in {@code batch}. */
    public void delete(WriteBatch batch, long backupId) {
        try {
            batch.delete(db.catalog(), ManifestKeys.catalogKey(backupId));
            batch.deleteRange(db.manifests(), ManifestKeys.manifestKey(backupId, 0, 0), ManifestKeys.manifestKey(backupId + 1, 0, 0));
        } catch (org.rocksdb.RocksDBException e) {
            throw new RepositoryException("index batch failed: " + e.getMessage(), e);
        }
    }
}
