package io.blockmover.index.s3;

import io.blockmover.index.backup.RepositoryPeers;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.maintenance.IndexRebuilder;
import io.blockmover.index.maintenance.RebuildReport;
import io.blockmover.index.pack.PackStore;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.RepositoryConfig;
import io.blockmover.index.repo.internal.RepoInternals;
import io.blockmover.index.format.RepositoryException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Opens repositories that live in a bucket. The bucket holds {@code config}, packs, index
 * segments, backup objects and locks (index/FORMAT.md, "Object store"); this proxy's cache
 * directory holds a copy of the config, the RocksDB index (a cache of the bucket's segments and
 * manifests, refolded when missing or stale), the staging area and the read cache.
 */
public final class S3Repository {
    static final String CONFIG = "config";
    /**
     * Packs in a bucket are smaller than on a disk (64 MiB): a pack is uploaded when it is sealed,
     * and 16 MiB ones seal often enough that their uploads overlap the backup's reading instead of
     * queueing at its end; each is one PUT (below the multipart threshold), as restic's are.
     */
    public static final long DEFAULT_PACK_SIZE = 16L << 20;
    private static final Pattern PROXY_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    /** Where the repository is, how to reach it, who this proxy is and where its cache lives. */
    public record Access(S3Target target, S3Settings settings, String proxyId, Path cacheDir, LockTiming locks) {
        public Access {
            if (!PROXY_ID.matcher(proxyId).matches()) {
                throw new RepositoryException("proxy id '" + proxyId + "' must be 1-64 of A-Z a-z 0-9 _ -");
            }
        }
    }

    private S3Repository() {
    }

    /**
     * Creates the repository (and the bucket if it does not exist) and opens it. Always without
     * sub-chunk dedup: index segments carry chunk locations only, so another proxy would fold in a
     * recipe without its sources and its gc could sweep them (the CLI refuses an explicit request).
     */
    public static Repository init(Access a, InitOptions options) throws IOException {
        options = options.withSubchunkDedup(false);
        try (ObjectStore store = new ObjectStore(a.target(), a.settings())) {
            store.createBucketIfMissing();
            if (store.get(CONFIG) != null) {
                throw new RepositoryException("cannot init a repository at " + a.target() + ": there is one already");
            }
            Files.createDirectories(a.cacheDir());
            clearCache(a.cacheDir());
            InitOptions o = options.packTargetSize() == InitOptions.DEFAULT_PACK_SIZE ? options.withPackTargetSize(DEFAULT_PACK_SIZE) : options;
            Repository.newConfig(o).write(a.cacheDir());
            store.put(CONFIG, ByteBuffer.wrap(Files.readAllBytes(a.cacheDir().resolve(RepositoryConfig.FILE))));
        }
        return open(a, options.passphrase());
    }

    public static Repository open(Access a, char[] passphrase) throws IOException {
        ObjectStore store = new ObjectStore(a.target(), a.settings());
        BucketPeers peers = null;
        try {
            store.checkBucket();
            fetchConfig(store, a);
            peers = new BucketPeers(store, a.proxyId(), a.cacheDir(), a.locks());
            BucketPeers p = peers;
            Repository repo = Repository.open(a.cacheDir(), passphrase, true, () -> new S3PackStore(store), peers);
            try {
                p.attach(RepoInternals.context(repo).db());
                repo.refreshFromPeers();
                return repo;
            } catch (RuntimeException e) {
                repo.close();
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            if (peers != null) {
                peers.close();
            } else {
                store.close();
            }
            throw e;
        }
    }

    /**
     * Rebuilds this proxy's index from the bucket's own index segments and manifest packs (the
     * objects read before come from the read cache); the old index is kept as
     * {@code index.old-<millis>} in the cache directory. Returns the repository, open.
     */
    public static Repository rebuildIndex(Access a, char[] passphrase) throws IOException {
        Path index = a.cacheDir().resolve("index");
        if (Files.exists(index)) {
            Files.move(index, a.cacheDir().resolve("index.old-" + System.currentTimeMillis()));
        }
        Files.deleteIfExists(a.cacheDir().resolve("peers.state"));
        return open(a, passphrase);
    }

    /**
     * rebuild-index of a repository in a bucket: a new index from a scan of the bucket's packs
     * alone (each read whole, one GET per pack), under an exclusive lock. The scan becomes the
     * bucket's index (a new generation, as gc publishes one) and this proxy's cache; backups it
     * recovered whose backup objects were lost are published again ({@code passphrase}, of an
     * encrypted repository with sub-chunk dedup, refills its fingerprint index). The old local index is kept
     * as {@code index.old-<millis>}. For a lost or stale cache alone no scan is needed: any command
     * refolds it from the bucket's segments ({@link #rebuildIndex}).
     */
    public static RebuildReport rebuildFromPacks(Access a, char[] passphrase) throws IOException {
        ObjectStore store = new ObjectStore(a.target(), a.settings());
        BucketPeers peers;
        try {
            store.checkBucket();
            fetchConfig(store, a);
            peers = new BucketPeers(store, a.proxyId(), a.cacheDir(), a.locks());
        } catch (IOException | RuntimeException e) {
            store.close();
            throw e;
        }
        try (RepositoryPeers.Lease lease = peers.exclusive("rebuild-index")) {
            Path fresh = a.cacheDir().resolve("index.rebuild");
            deleteTree(fresh);
            RebuildReport report;
            RepositoryConfig config = RepositoryConfig.readRebuildable(a.cacheDir());
            try (IndexDb db = IndexDb.open(fresh, config.rebuiltVersion()); PackStore packs = new WholePacks(store)) {
                report = IndexRebuilder.scan(db, packs, config, passphrase);
                peers.republish(db);
            }
            Path index = a.cacheDir().resolve("index");
            if (Files.exists(index)) {
                Files.move(index, a.cacheDir().resolve("index.old-" + System.currentTimeMillis()));
            }
            Files.move(fresh, index);
            return report;
        } finally {
            peers.close();
        }
    }

    /** The request counts of a repository opened here, or null for a local one. */
    public static RequestCounts counts(Repository repo) {
        return RepoInternals.context(repo).peers() instanceof BucketPeers b ? b.store().counts() : null;
    }

    /** The bucket's config into the cache directory (a cache of another repository under this name is cleared first). */
    private static void fetchConfig(ObjectStore store, Access a) throws IOException {
        byte[] config = store.get(CONFIG);
        if (config == null) {
            throw new RepositoryException("no repository at " + a.target() + "; create one with 'blockmover init --repo " + a.target() + "'");
        }
        Files.createDirectories(a.cacheDir());
        Path local = a.cacheDir().resolve(RepositoryConfig.FILE);
        if (!Files.exists(local) || !Arrays.equals(Files.readAllBytes(local), config)) {
            if (Files.exists(local) && !sameRepository(local, config, a.cacheDir())) {
                clearCache(a.cacheDir()); // a cache of another repository under this name
            }
            Path tmp = a.cacheDir().resolve(RepositoryConfig.FILE + ".tmp");
            Files.write(tmp, config);
            Files.move(tmp, local, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
    }

    /**
     * The bucket's packs for a scan, each fetched whole by one GET when the scan first reads it
     * and kept while it reads on (a scan reads a pack's records in order, one pack at a time),
     * rather than two ranged GETs per record.
     */
    private static final class WholePacks implements PackStore {
        private final ObjectStore store;
        private final S3PackStore packs;
        private long current;
        private byte[] bytes;

        WholePacks(ObjectStore store) {
            this.store = store;
            this.packs = new S3PackStore(store);
        }

        @Override
        public synchronized int read(long packId, long position, ByteBuffer dst) throws IOException {
            if (bytes == null || current != packId) {
                bytes = store.get(S3PackStore.name(packId));
                current = packId;
                if (bytes == null) {
                    throw new java.nio.file.NoSuchFileException(S3PackStore.name(packId));
                }
            }
            if (position >= bytes.length) {
                return -1;
            }
            int n = (int) Math.min(dst.remaining(), bytes.length - position);
            dst.put(bytes, (int) position, n);
            return n;
        }

        @Override
        public java.util.List<PackInfo> list() throws IOException {
            return packs.list();
        }

        @Override
        public Output create(long packId) {
            throw new UnsupportedOperationException("a scan writes no pack");
        }

        @Override
        public void delete(long packId) {
            throw new UnsupportedOperationException("a scan deletes no pack");
        }

        @Override
        public void close() {
            packs.close();
        }
    }

    private static boolean sameRepository(Path local, byte[] remote, Path cacheDir) throws IOException {
        Path tmp = Files.createTempDirectory(cacheDir, "config-");
        try {
            Files.write(tmp.resolve(RepositoryConfig.FILE), remote);
            return RepositoryConfig.readRebuildable(tmp).repoId().equals(RepositoryConfig.readRebuildable(cacheDir).repoId());
        } finally {
            deleteTree(tmp);
        }
    }

    private static void clearCache(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                deleteTree(p);
            }
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }
}
