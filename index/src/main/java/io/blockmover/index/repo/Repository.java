package io.blockmover.index.repo;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupHolds;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.GcFence;
import io.blockmover.index.backup.MaintenanceGate;
import io.blockmover.index.backup.PacksInProgress;
import io.blockmover.index.backup.ReaderEpochs;
import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.ChunkKeys;
import io.blockmover.index.chunk.CodecPool;
import io.blockmover.index.chunk.KeyWrap;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.db.IndexSnapshot;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.ManifestKeys;
import io.blockmover.index.manifest.ManifestStore;
import io.blockmover.index.pack.LocalPackStore;
import io.blockmover.index.pack.PackStore;
import io.blockmover.index.backup.RepositoryPeers;
import io.blockmover.index.repo.internal.RepoInternals;

import java.util.function.Consumer;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.RocksIterator;

/**
 * A chunk store on a local directory: {@code config}, {@code lock}, {@code packs/}, {@code index/}
 * (RocksDB) and {@code tmp/}. One process opens it at a time (a second gets
 * {@link RepositoryInUseException}); inside it, any number of backups and restores run at once.
 */
public final class Repository implements AutoCloseable {
    private final RepoContext ctx;
    private final RepositoryConfig config;
    private final RepositoryLock lock;
    private final ChunkKeys keys;
    private static final long CLOSE_WAIT_MILLIS = 10_000;
    private volatile boolean closed;

    private Repository(RepoContext ctx, RepositoryConfig config, RepositoryLock lock, ChunkKeys keys) {
        this.ctx = ctx;
        this.config = config;
        this.lock = lock;
        this.keys = keys;
    }

    /** Creates a repository in {@code root} (which must be empty or absent) and opens it. */
    public static Repository init(Path root, InitOptions options) throws IOException {
        FileModes.narrowUmask();
        FileModes.privateDirectory(root);
        try (DirectoryStream<Path> d = Files.newDirectoryStream(root)) {
            if (d.iterator().hasNext()) {
                throw new RepositoryException("cannot init a repository in " + root + ": the directory is not empty");
            }
        }
        newConfig(options).write(root);
        return open(root, options.passphrase(), false, true);
    }

    /** The settings of a new repository: a fresh id, and the master key wrapped under the passphrase if one is given. */
    public static RepositoryConfig newConfig(InitOptions options) {
        String repoId = UUID.randomUUID().toString();
        SecureRandom random = new SecureRandom();
        Encryption enc = new Encryption.None();
        if (options.passphrase() != null) {
            byte[] salt = KeyWrap.newSalt(random);
            byte[] material = KeyWrap.newMaterial(random);
            enc = new Encryption.AesGcm(KeyWrap.KDF_NAME, options.kdfIterations(), salt,
                    KeyWrap.wrap(options.passphrase(), salt, options.kdfIterations(), material, repoId, random));
        }
        return RepositoryConfig.create(repoId, options.chunkSize(), options.compression(), options.packTargetSize(), enc,
                options.subchunkDedup(), options.frameSize());
    }

    /** Opens an existing repository; {@code passphrase} is required when it is encrypted, else ignored. */
    public static Repository open(Path root, char[] passphrase) throws IOException {
        return open(root, passphrase, false, false);
    }

    /**
     * Opens a repository for reading only, without its lock, beside a process that may be writing
     * it: the backups committed at open time can be listed, restored, verified and counted. Safe
     * unless that process runs gc meanwhile (a deleted pack is then a clear error, not wrong data).
     */
    public static Repository openReadOnly(Path root, char[] passphrase) throws IOException {
        return open(root, passphrase, true, false);
    }

    private static Repository open(Path root, char[] passphrase, boolean readOnly, boolean create) throws IOException {
        return open(root, passphrase, readOnly, create, () -> new LocalPackStore(root.resolve("packs")), RepositoryPeers.NONE);
    }

    /** Where packs live, made once the local parts of the repository are open. */
    public interface PackStoreFactory {
        PackStore open() throws IOException;
    }

    /**
     * Opens a repository whose packs live in {@code packs} and which {@code peers} shares with
     * other processes; {@code root} holds its config, lock, index and staging (for a repository
     * in an object store: the local cache). {@code create}: an absent index is created empty
     * (the peers then fill it in).
     */
    public static Repository open(Path root, char[] passphrase, boolean create, PackStoreFactory packs, RepositoryPeers peers)
            throws IOException {
        return open(root, passphrase, false, create, packs, peers);
    }

    private static Repository open(Path root, char[] passphrase, boolean readOnly, boolean create, PackStoreFactory packs,
                                   RepositoryPeers peers) throws IOException {
        FileModes.narrowUmask();
        RepositoryConfig config = RepositoryConfig.read(root);
        if (!create && !Files.exists(root.resolve("index").resolve("CURRENT"))) {
            // An empty new index would silently show an empty repository.
            throw new RepositoryException("repository " + root + " has no index; rebuild it from the packs with rebuild-index");
        }
        ChunkKeys keys = null;
        if (config.encryption() instanceof Encryption.AesGcm a) {
            if (passphrase == null) {
                throw new RepositoryException("repository " + root + " is encrypted: a passphrase is required");
            }
            keys = ChunkKeys.fromMaterial(KeyWrap.unwrap(passphrase, a.salt(), a.iterations(), a.wrappedKey(), config.repoId()));
        }
        RepositoryLock lock = readOnly ? null : RepositoryLock.acquire(root);
        IndexDb db = null;
        try {
            Path tmp = root.resolve("tmp");
            if (!readOnly) {
                Files.createDirectories(tmp);
                clearDirectory(tmp); // staged manifests of a crashed process
            }
            db = IndexDb.open(root.resolve("index"), config.formatVersion(), readOnly, config.subchunkDedup());
            ChunkKeys k = keys;
            CodecPool codecs = new CodecPool(() -> new ChunkCodec(config.chunkSize(), config.compression(), k));
            RepoContext ctx = new RepoContext(root, config.chunkSize(), config.frameSize(), config.packTargetSize(), db, new ManifestStore(db), packs.open(),
                    codecs, new MaintenanceGate(), new GcFence(), new ReaderEpochs(), new PacksInProgress(),
                    new AtomicLong(Math.max(nextBackupId(db), peers.firstBackupId())), tmp, new SecureRandom(), readOnly,
                    new BackupHolds(), peers);
            return new Repository(ctx, config, lock, keys);
        } catch (IOException | RuntimeException e) {
            if (db != null) {
                db.close();
            }
            if (lock != null) {
                lock.close();
            }
            throw e;
        }
    }

    /** Past every id in the catalog and in orphaned manifests, so a crashed backup's id is never reused. */
    private static long nextBackupId(IndexDb db) {
        long max = 0;
        try (RocksIterator it = db.iterator(db.catalog())) {
            it.seekToLast();
            if (it.isValid()) {
                max = ManifestKeys.backupIdOf(it.key());
            }
            IndexDb.checkScan(it, "finding the last backup id");
        }
        try (RocksIterator it = db.iterator(db.manifests())) {
            it.seekToLast();
            if (it.isValid()) {
                max = Math.max(max, ManifestKeys.backupIdOf(it.key()));
            }
            IndexDb.checkScan(it, "finding the last manifest id");
        }
        return max + 1;
    }

    private static void clearDirectory(Path dir) throws IOException {
        try (DirectoryStream<Path> d = Files.newDirectoryStream(dir)) {
            for (Path p : d) {
                Files.deleteIfExists(p);
            }
        }
    }

    public RepositoryConfig config() {
        return config;
    }

    public Path root() {
        return ctx.root();
    }

    static {
        // The one way in for this module's maintenance classes; the package it lives in is not exported.
        RepoInternals.grant(r -> r.ctx);
    }

    /** Watches gc's phases on this repository (null stops watching). For tests and diagnostics. */
    public void observeGc(Consumer<GcFence.Phase> observer) {
        ctx.fence().observeGc(observer);
    }

    /** Starts a backup; it runs beside other backups, restores, prune and gc. */
    public BackupWriter newBackup(BackupSpec spec) {
        checkOpen();
        ctx.checkWritable("start a backup");
        RepositoryPeers.Lease lease = lease("backup of " + spec.vmId());
        try {
            refreshFromPeers();
        } catch (RuntimeException e) {
            lease.close();
            throw e;
        }
        // On failure the writer's constructor leaves the gate and the lease itself.
        return new BackupWriter(ctx, spec, ctx.gate().enterShared(), lease);
    }

    /**
     * Opens a committed backup for reading. The reader sees the index as it is now: a prune of
     * this backup or a gc while it is open changes nothing it reads (gc deletes no pack this
     * reader may need before it is closed).
     */
    public BackupReader openBackup(long backupId) {
        checkOpen();
        RepositoryPeers.Lease lease = lease("restore of backup " + backupId);
        try {
            refreshFromPeers();
        } catch (RuntimeException e) {
            lease.close();
            throw e;
        }
        long stamp = ctx.gate().enterShared();
        // The ticket before the snapshot: gc waits for every reader whose snapshot may predate its index changes.
        long ticket = ctx.readers().enter();
        IndexSnapshot snapshot = null;
        try {
            snapshot = IndexSnapshot.of(ctx.db(), ctx.readOnly());
            Optional<BackupRecord> r = new ManifestStore(snapshot).backup(backupId);
            if (r.isEmpty()) {
                throw new RepositoryException("backup " + backupId + " does not exist");
            }
            return new BackupReader(ctx, r.get(), stamp, ticket, snapshot, lease);
        } catch (RuntimeException e) {
            lease.close();
            if (snapshot != null) {
                snapshot.close();
            }
            ctx.readers().exit(ticket);
            ctx.gate().exitShared(stamp);
            throw e;
        }
    }

    /**
     * Keeps a committed backup from being pruned until the hold is closed; prune reports it as
     * kept because it is held for {@code why}.
     */
    public BackupHolds.Hold hold(long backupId, String why) {
        checkOpen();
        if (backup(backupId).isEmpty()) {
            throw new RepositoryException("backup " + backupId + " does not exist");
        }
        return ctx.holds().hold(backupId, why);
    }

    /** Why the backup is held against prune (e.g. "exported"), or empty when nothing holds it. */
    public Optional<String> heldFor(long backupId) {
        return ctx.holds().heldFor(backupId);
    }

    public List<BackupRecord> backups() {
        checkOpen();
        refreshCatalog();
        return ctx.manifests().backups();
    }

    public Optional<BackupRecord> backup(long id) {
        checkOpen();
        refreshCatalog();
        return ctx.manifests().backup(id);
    }

    /** The newest committed backup of a VM: the parent for its next incremental. */
    public Optional<BackupRecord> latest(String vmId) {
        return backups().stream().filter(b -> b.vmId().equals(vmId)).max(Comparator.comparing(BackupRecord::committed)
                .thenComparingLong(BackupRecord::id));
    }

    /**
     * Bytes of every pack file, chunks and manifests: what the repository takes on disk. A
     * listing of the packs, no scan of the index, so a metrics scrape can ask at any time.
     */
    public long packBytes() throws IOException {
        checkOpen();
        return ctx.packs().list().stream().mapToLong(io.blockmover.index.pack.PackStore.PackInfo::size).sum();
    }

    /** Re-wraps the master key under a new passphrase; chunks and index are untouched. */
    public void changePassphrase(char[] newPassphrase) throws IOException {
        ctx.checkWritable("change the passphrase");
        if (!(config.encryption() instanceof Encryption.AesGcm a)) {
            throw new RepositoryException("repository is not encrypted");
        }
        byte[] material = new byte[ChunkKeys.MATERIAL_LENGTH];
        System.arraycopy(keys.encryption().getEncoded(), 0, material, 0, 32);
        System.arraycopy(keys.mac().getEncoded(), 0, material, 32, 32);
        byte[] salt = KeyWrap.newSalt(ctx.random());
        Encryption.AesGcm updated = new Encryption.AesGcm(a.kdf(), a.iterations(), salt,
                KeyWrap.wrap(newPassphrase, salt, a.iterations(), material, config.repoId(), ctx.random()));
        config.withEncryption(updated).write(ctx.root());
    }

    /**
     * Folds in what other processes sharing the repository published since the last time
     * (nothing to do for a repository on a local disk). A failure is one line.
     */
    public void refreshFromPeers() {
        if (ctx.readOnly()) {
            return;
        }
        try {
            ctx.peers().refresh();
        } catch (IOException e) {
            throw new RepositoryException(e.getMessage(), e);
        }
    }

    /**
     * How old the peers' state may be for a read of the catalog: a job looks up its parent two or
     * three times before it starts, and each whole refresh is requests to a shared store.
     */
    private static final long CATALOG_MAX_AGE_MILLIS = 1_000;

    private void refreshCatalog() {
        if (ctx.readOnly()) {
            return;
        }
        try {
            ctx.peers().refresh(CATALOG_MAX_AGE_MILLIS);
        } catch (IOException e) {
            throw new RepositoryException(e.getMessage(), e);
        }
    }

    private RepositoryPeers.Lease lease(String what) {
        try {
            return ctx.peers().shared(what);
        } catch (IOException e) {
            throw new RepositoryException(e.getMessage(), e);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("repository " + ctx.root() + " is closed");
        }
    }

    /**
     * Closes the repository once no backup, restore or maintenance is open on it (waiting up to
     * {@value #CLOSE_WAIT_MILLIS} ms); the native index must never be used after it is freed.
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        ctx.gate().enterExclusive(CLOSE_WAIT_MILLIS, "closing the repository");
        closed = true; // the gate stays held: nothing can start on a closed repository
        try {
            ctx.codecs().close();
            ctx.packs().close();
            ctx.peers().close();
            ctx.db().close();
        } finally {
            if (lock != null) {
                lock.close();
            }
        }
    }
}
