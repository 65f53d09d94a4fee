package io.blockmover.index.db;

import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.RepositoryException;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.DataBlockIndexType;
import org.rocksdb.LRUCache;
import org.rocksdb.PlainTableConfig;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The RocksDB index (see FORMAT.md for every key and value): {@code chunks} digest → location,
 * {@code catalog} backup id → backup record, {@code manifests} (backup, disk, segment) → 1024
 * digests, {@code default} for format metadata. Memory: one shared 64 MiB block cache (catalog
 * and manifests) and 64 MiB of memtables; the chunks CF's hash index and bloom filter live in its
 * mmapped files (about 11 of its about 70 bytes per chunk), in the page cache like its rows.
 */
public final class IndexDb implements AutoCloseable {
    public static final long BLOCK_CACHE = 64L << 20;
    public static final long MEMTABLES = 64L << 20;
    /** The chunks CF's hash index and bloom filter are keyed by this many leading bytes of a digest. */
    static final int CHUNK_PREFIX = 8;
    /** The first index format with the sub-chunk dedup CFs (RepositoryConfig's format version). */
    private static final int SUBCHUNK_FORMAT = 3;
    private static final byte[] FORMAT_KEY = "formatVersion".getBytes(StandardCharsets.US_ASCII);

    static {
        RocksDB.loadLibrary();
    }

    private final RocksDB db;
    private final DBOptions dbOptions;
    private final LRUCache cache;
    private final List<ColumnFamilyOptions> cfOptions = new ArrayList<>();
    private final List<ColumnFamilyHandle> handles = new ArrayList<>();
    private final ColumnFamilyHandle meta;
    private final ColumnFamilyHandle chunks;
    private final ColumnFamilyHandle catalog;
    private final ColumnFamilyHandle manifests;
    /** Format 3 only (sub-chunk dedup), else null: sampled 4 KiB block fingerprint → chunk and block. */
    private final ColumnFamilyHandle fingerprints;
    /** Format 3 only, else null: recipe chunk id → its source chunk ids. */
    private final ColumnFamilyHandle recipes;
    /** Format 3 only, else null: chunk id → the chunk stored after it on the same disk. */
    private final ColumnFamilyHandle successors;
    private final WriteOptions syncWrite = new WriteOptions().setSync(true);
    private final WriteOptions plainWrite = new WriteOptions();
    private final ReadOptions read = new ReadOptions();
    /** Scans see every key in order, not only those of the first key's prefix (the chunks CF has a prefix extractor). */
    private final ReadOptions scan = new ReadOptions().setTotalOrderSeek(true);

    private IndexDb(Path dir, int formatVersion, boolean readOnly, boolean subchunks) throws RocksDBException {
        cache = new LRUCache(BLOCK_CACHE);
        dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
                .setDbWriteBufferSize(MEMTABLES).setMaxOpenFiles(1024).setKeepLogFileNum(4)
                // No fallocate: a small (or nearly full) filesystem must fail on real data, not on preallocation.
                .setAllowFAllocate(false).setManifestPreallocationSize(64 << 10)
                .setAllowMmapReads(true);
        List<ColumnFamilyDescriptor> descriptors = new ArrayList<>(List.of(
                new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, options(4 << 20)),
                new ColumnFamilyDescriptor("chunks".getBytes(StandardCharsets.US_ASCII), chunkOptions(32 << 20)),
                new ColumnFamilyDescriptor("catalog".getBytes(StandardCharsets.US_ASCII), options(4 << 20)),
                new ColumnFamilyDescriptor("manifests".getBytes(StandardCharsets.US_ASCII), options(32 << 20))));
        // Only with sub-chunk dedup (format 3, config subchunkDedup=on): any other index keeps exactly
        // its four CFs, so builds that know only format 2 still open it. An index that has them opens them.
        boolean subchunk = (subchunks && formatVersion >= SUBCHUNK_FORMAT) || hasSubchunkFamilies(dir);
        if (subchunk) {
            descriptors.add(new ColumnFamilyDescriptor("fingerprints".getBytes(StandardCharsets.US_ASCII), fingerprintOptions(16 << 20)));
            descriptors.add(new ColumnFamilyDescriptor("recipes".getBytes(StandardCharsets.US_ASCII), options(4 << 20)));
            descriptors.add(new ColumnFamilyDescriptor("successors".getBytes(StandardCharsets.US_ASCII), options(8 << 20)));
        }
        db = readOnly ? RocksDB.openReadOnly(dbOptions, dir.toString(), descriptors, handles)
                : RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
        meta = handles.get(0);
        chunks = handles.get(1);
        catalog = handles.get(2);
        manifests = handles.get(3);
        fingerprints = subchunk ? handles.get(4) : null;
        recipes = subchunk ? handles.get(5) : null;
        successors = subchunk ? handles.get(6) : null;
        byte[] v = db.get(meta, FORMAT_KEY);
        if (v == null && readOnly) {
            close();
            throw new RepositoryException("the index at " + dir + " has no format version");
        } else if (v == null) {
            db.put(meta, syncWrite, FORMAT_KEY, Integer.toString(formatVersion).getBytes(StandardCharsets.US_ASCII));
        } else if (Integer.parseInt(new String(v, StandardCharsets.US_ASCII)) != formatVersion) {
            close();
            throw new RepositoryException("index format " + new String(v, StandardCharsets.US_ASCII) + " does not match repository format " + formatVersion);
        }
    }

    private static boolean hasSubchunkFamilies(Path dir) throws RocksDBException {
        if (!java.nio.file.Files.exists(dir.resolve("CURRENT"))) {
            return false;
        }
        try (org.rocksdb.Options o = new org.rocksdb.Options()) {
            for (byte[] name : RocksDB.listColumnFamilies(o, dir.toString())) {
                if (new String(name, StandardCharsets.US_ASCII).equals("recipes")) {
                    return true;
                }
            }
        }
        return false;
    }

    private ColumnFamilyOptions options(long writeBuffer) {
        BlockBasedTableConfig table = new BlockBasedTableConfig()
                .setBlockCache(cache)
                // Bloom at 10 bits/key: ~1% false positives, so a lookup of an absent key rarely touches a data block.
                .setFilterPolicy(new BloomFilter(10, false))
                // Whole filters and block indexes live with each open table, outside the cache: about
                // 2 bytes per key (a manifest key per 1024 chunks). In the cache, data blocks would
                // evict them and every lookup would reread them.
                .setCacheIndexAndFilterBlocks(false)
                // Hash index inside each data block: a point lookup skips the in-block binary search.
                .setDataBlockIndexType(DataBlockIndexType.kDataBlockBinaryAndHash)
                .setOptimizeFiltersForMemory(true);
        ColumnFamilyOptions o = new ColumnFamilyOptions().setTableFormatConfig(table)
                .setWriteBufferSize(writeBuffer).setMaxWriteBufferNumber(2)
                // Digests do not compress.
                .setCompressionType(CompressionType.NO_COMPRESSION)
                .setLevelCompactionDynamicLevelBytes(true);
        cfOptions.add(o);
        return o;
    }

    /**
     * The fingerprint CF is looked up about four times per new chunk, and almost every lookup misses
     * (a block seen before is the exception). A whole-key bloom filter on its memtables answers those
     * misses without walking the skip list: on the reference image the walk took 0.09 CPU-s per GiB
     * of new data, 0.03 with the filter (docs/performance.md, 2026-12-05 21:16).
     */
    private ColumnFamilyOptions fingerprintOptions(long writeBuffer) {
        return options(writeBuffer).setMemtablePrefixBloomSizeRatio(0.1).setMemtableWholeKeyFiltering(true);
    }

    /**
     * The chunks CF is looked up once per chunk written, mostly for chunks that exist, at random
     * among millions of keys: a block-based table pays 8–11 dependent cache misses per hit there
     * (filter, block index, block trailer, in-block hash, entry), a PlainTable 3–4½: a bloom probe
     * within one cache line, one bucket of a hash index keyed by the digest's first 8 bytes (digests
     * are uniformly random, so nearly every key is its own prefix), sometimes a sub-index for a
     * shared bucket, then the row itself in the mmapped file. Index and bloom are stored in each
     * file (mmapped, built once at flush or compaction, not at every open), so the CF holds no
     * memory per chunk outside the page cache. PlainTable cannot seek backwards or to an arbitrary
     * key without a prefix; the chunks CF needs only point lookups and whole scans from the first
     * key, which it does (scans with total-order read options). See FORMAT.md.
     */
    private ColumnFamilyOptions chunkOptions(long writeBuffer) {
        PlainTableConfig table = new PlainTableConfig().setKeySize(ChunkId.LENGTH)
                .setBloomBitsPerKey(10)
                // Two buckets per key: fewer keys share a bucket (39% instead of 53% at the default
                // 0.75), each sharing costs a sub-index read and one or two more rows; 8 bytes per key.
                .setHashTableRatio(0.5)
                .setStoreIndexInFile(true);
        ColumnFamilyOptions o = new ColumnFamilyOptions().setTableFormatConfig(table)
                .useFixedLengthPrefixExtractor(CHUNK_PREFIX)
                // All probes of a key in one cache line of the bloom filter.
                .setBloomLocality(1)
                // Lookups of new chunks skip the memtables too.
                .setMemtablePrefixBloomSizeRatio(0.1)
                .setWriteBufferSize(writeBuffer).setMaxWriteBufferNumber(2)
                .setCompressionType(CompressionType.NO_COMPRESSION)
                .setLevelCompactionDynamicLevelBytes(true);
        cfOptions.add(o);
        return o;
    }

    public static IndexDb open(Path dir, int formatVersion) {
        return open(dir, formatVersion, false);
    }

    /**
     * Opens the index; read-only takes no RocksDB lock and sees the index as it was at open time, so
     * it can sit beside the process that writes the repository.
     */
    public static IndexDb open(Path dir, int formatVersion, boolean readOnly) {
        return open(dir, formatVersion, readOnly, false);
    }

    /**
     * {@code subchunks}: the repository has sub-chunk dedup, so the index has (or is given) the
     * {@code fingerprints}, {@code recipes} and {@code successors} CFs; an index that has them
     * opens them whatever this says.
     */
    public static IndexDb open(Path dir, int formatVersion, boolean readOnly, boolean subchunks) {
        try {
            return new IndexDb(dir, formatVersion, readOnly, subchunks);
        } catch (RocksDBException e) {
            throw new RepositoryException("cannot open the index at " + dir + ": " + e.getMessage(), e);
        }
    }

    public RocksDB rocks() {
        return db;
    }

    public ColumnFamilyHandle chunks() {
        return chunks;
    }

    public ColumnFamilyHandle catalog() {
        return catalog;
    }

    public ColumnFamilyHandle manifests() {
        return manifests;
    }

    /** True when the index has the sub-chunk dedup CFs (format 3). */
    public boolean hasSubchunks() {
        return recipes != null;
    }

    /** Sampled 4 KiB block fingerprints (format 3; check {@link #hasSubchunks()}). */
    public ColumnFamilyHandle fingerprints() {
        return fingerprints;
    }

    /** Recipe chunk id → source ids (format 3; check {@link #hasSubchunks()}). */
    public ColumnFamilyHandle recipes() {
        return recipes;
    }

    /** Chunk id → the next chunk of the disk it was stored from (format 3; check {@link #hasSubchunks()}). */
    public ColumnFamilyHandle successors() {
        return successors;
    }

    /** True when the chunk is indexed. {@code scratch} must hold 25 bytes (one per thread). */
    public boolean contains(ChunkId id, byte[] scratch) {
        try {
            return db.get(chunks, read, id.bytes(), scratch) != RocksDB.NOT_FOUND;
        } catch (RocksDBException e) {
            throw new RepositoryException("index lookup failed: " + e.getMessage(), e);
        }
    }

    public ChunkLocation location(ChunkId id) {
        try {
            return entry(id, db.get(chunks, read, id.bytes()));
        } catch (RocksDBException e) {
            throw new RepositoryException("index lookup failed: " + e.getMessage(), e);
        }
    }

    /** A chunk's index entry decoded, or null for none; a malformed one is that chunk's damage. */
    static ChunkLocation entry(ChunkId id, byte[] value) {
        if (value == null) {
            return null;
        }
        try {
            return ChunkLocation.decode(value, value.length);
        } catch (IllegalArgumentException e) {
            throw new ChunkDamagedException(id.hex(), "index entry is malformed: " + e.getMessage());
        }
    }

    public byte[] get(ColumnFamilyHandle cf, byte[] key) {
        try {
            return db.get(cf, read, key);
        } catch (RocksDBException e) {
            throw new RepositoryException("index read failed: " + e.getMessage(), e);
        }
    }

    public RocksIterator iterator(ColumnFamilyHandle cf) {
        return db.newIterator(cf, scan);
    }

    /**
     * Call after a scan's loop: an iterator stops being valid at the end of the data and also
     * when a read fails (a damaged table), and only its status tells which. A scan cut short
     * must never pass for complete: gc would take every chunk it missed for garbage.
     */
    public static void checkScan(RocksIterator it, String what) {
        try {
            it.status();
        } catch (RocksDBException e) {
            throw new RepositoryException(what + " stopped on a damaged index: " + e.getMessage()
                    + " (rebuild-index rebuilds the index from the packs)", e);
        }
    }

    /** Applies a batch atomically; {@code sync} waits until the write-ahead log is on disk. */
    public void write(WriteBatch batch, boolean sync) {
        try {
            db.write(sync ? syncWrite : plainWrite, batch);
        } catch (RocksDBException e) {
            throw new RepositoryException("index write failed: " + e.getMessage(), e);
        }
    }

    public void flushAndCompact() {
        try {
            for (ColumnFamilyHandle h : handles) {
                db.compactRange(h);
            }
        } catch (RocksDBException e) {
            throw new RepositoryException("index compaction failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        for (ColumnFamilyHandle h : handles) {
            h.close();
        }
        db.close();
        dbOptions.close();
        for (ColumnFamilyOptions o : cfOptions) {
            o.close();
        }
        cache.close();
        syncWrite.close();
        plainWrite.close();
        read.close();
        scan.close();
    }
}
