package io.blockmover.index.db;

import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.RepositoryException;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Snapshot;

/**
 * The index frozen at one moment (a RocksDB snapshot): what a restore, a verify or gc's mark
 * reads, so that prune and gc changing the live index under them change nothing they see. Close it
 * (before the index) to let RocksDB drop what only it still needed. On a read-only open the index
 * never changes, so no snapshot is taken there.
 */
public final class IndexSnapshot implements AutoCloseable {
    private final IndexDb db;
    private final Snapshot snapshot;
    private final ReadOptions read;
    /** Like {@link IndexDb#iterator}: whole scans in total order (the chunks CF has a prefix extractor). */
    private final ReadOptions scan;

    private IndexSnapshot(IndexDb db, boolean frozen) {
        this.db = db;
        this.snapshot = frozen ? db.rocks().getSnapshot() : null;
        this.read = new ReadOptions();
        this.scan = new ReadOptions().setTotalOrderSeek(true);
        if (snapshot != null) {
            read.setSnapshot(snapshot);
            scan.setSnapshot(snapshot);
        }
    }

    /** A snapshot of {@code db} as it is now; {@code readOnly} for an index opened read-only. */
    public static IndexSnapshot of(IndexDb db, boolean readOnly) {
        return new IndexSnapshot(db, !readOnly);
    }

    public IndexDb db() {
        return db;
    }

    public byte[] get(ColumnFamilyHandle cf, byte[] key) {
        try {
            return db.rocks().get(cf, read, key);
        } catch (RocksDBException e) {
            throw new RepositoryException("index read failed: " + e.getMessage(), e);
        }
    }

    public RocksIterator iterator(ColumnFamilyHandle cf) {
        return db.rocks().newIterator(cf, scan);
    }

    /** True when the chunk was indexed at the snapshot. {@code scratch} must hold 25 bytes. */
    public boolean contains(ChunkId id, byte[] scratch) {
        try {
            return db.rocks().get(db.chunks(), read, id.bytes(), scratch) != RocksDB.NOT_FOUND;
        } catch (RocksDBException e) {
            throw new RepositoryException("index lookup failed: " + e.getMessage(), e);
        }
    }

    /** Where the chunk was at the snapshot, or null when it was not indexed. */
    public ChunkLocation location(ChunkId id) {
        return IndexDb.entry(id, get(db.chunks(), id.bytes()));
    }

    @Override
    public void close() {
        read.close();
        scan.close();
        if (snapshot != null) {
            db.rocks().releaseSnapshot(snapshot);
        }
    }
}
