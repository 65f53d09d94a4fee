package io.blockmover.index.pack;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Packs as files {@code packs/<first two hex digits>/<16 hex digits>.pack} under a directory.
 *
 * <p>With {@code -Dblockmover.pack.direct=true}, new packs are written with O_DIRECT where the
 * filesystem supports it (not tmpfs/ramfs, where O_DIRECT is buffered I/O under another name and
 * the staging copy would be pure cost): records are gathered in an aligned buffer written
 * past the page cache, 1 MiB per write. That costs the writing thread less CPU per MiB than the
 * page-cache copy and leaves no dirty pages, but each write waits for the disk while the
 * backup's append lock is held, so several threads feeding one backup lose wall-clock throughput
 * (measured: 4 threads into one backup on ext4, 895–913 MB/s direct, also with 4 MiB writes,
 * against 1265–1399 MB/s buffered). Hence off by default. Where opening with O_DIRECT fails,
 * packs are written buffered. The bytes on disk are the same either way.
 */
public final class LocalPackStore implements PackStore {
    private static final Logger log = LoggerFactory.getLogger(LocalPackStore.class);
    private static final String SUFFIX = ".pack";
    /** Open read channels kept: enough for many restores in flight, far below any fd limit. */
    private static final int MAX_OPEN = 128;
    private static final Set<String> MEMORY_FILESYSTEMS = Set.of("tmpfs", "ramfs");
    /**
     * O_DIRECT as the JDK spells it ({@code com.sun.nio.file.ExtendedOpenOption.DIRECT}, in
     * jdk.unsupported), looked up at run time: javac flags it as internal API, and a runtime
     * without it simply writes buffered.
     */
    private static final OpenOption DIRECT = directOption();
    /** Largest block size written direct: the zero padding of a pack's last block comes from a buffer this big. */
    private static final int MAX_ALIGN = 64 << 10;

    private final Path dir;
    private final int maxOpen;
    private final ConcurrentHashMap<Long, FileChannel> readers = new ConcurrentHashMap<>();
    /**
     * Subdirectories of packs/ whose own entry this process has synced: a fact about the
     * filesystem, not one store, so shared by every store of the process (at most 256 per repository).
     */
    private static final Set<Path> DURABLE_DIRS = ConcurrentHashMap.newKeySet();
    /** Alignment of direct writes (the filesystem's block size), or 0 for buffered writes. */
    private volatile int directAlign;

    /** Direct writes only with {@code -Dblockmover.pack.direct=true} (see the class comment). */
    public LocalPackStore(Path dir) throws IOException {
        this(dir, MAX_OPEN, Boolean.getBoolean("blockmover.pack.direct"));
    }

    /**
     * With a smaller channel cache, so tests can make evictions happen under every read, and
     * with direct writes allowed or not, so tests cover both ways of writing.
     */
    LocalPackStore(Path dir, int maxOpen, boolean allowDirect) throws IOException {
        this.maxOpen = maxOpen;
        boolean fresh = !Files.isDirectory(dir);
        this.dir = Files.createDirectories(dir);
        if (fresh) {
            fsyncDir(dir.toAbsolutePath().getParent());
        }
        this.directAlign = allowDirect ? directAlignment(Files.getFileStore(this.dir)) : 0;
    }

    /**
     * The filesystem's block size when direct writes are worth trying there: not on a memory
     * filesystem, and only a power of two that divides the staging buffer and fits the padding.
     */
    private static int directAlignment(FileStore fs) {
        if (DIRECT == null || MEMORY_FILESYSTEMS.contains(fs.type())) {
            return 0;
        }
        try {
            long block = fs.getBlockSize();
            return block >= 512 && block <= MAX_ALIGN && Long.bitCount(block) == 1 ? (int) block : 0;
        } catch (IOException | UnsupportedOperationException e) {
            return 0;
        }
    }

    /** True when new packs are written with O_DIRECT (false once the filesystem refused it). */
    boolean writesDirect() {
        return directAlign > 0;
    }

    public Path pathOf(long packId) {
        String hex = HexFormat.of().toHexDigits(packId);
        return dir.resolve(hex.substring(0, 2)).resolve(hex + SUFFIX);
    }

    @Override
    public Output create(long packId) throws IOException {
        Path p = pathOf(packId);
        Files.createDirectories(p.getParent());
        int align = directAlign;
        if (align > 0) {
            try {
                return new DirectFileOutput(p, FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, DIRECT),
                        align);
            } catch (FileAlreadyExistsException e) {
                throw e;
            } catch (UnsupportedOperationException | IOException e) {
                // Linux creates the file before it refuses O_DIRECT (EINVAL). If a plain open
                // works, the filesystem is the reason: write buffered from now on.
                Files.deleteIfExists(p);
                FileChannel plain = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                directAlign = 0;
                log.info("{} does not take O_DIRECT writes ({}); packs are written through the page cache", dir, e.toString());
                return new FileOutput(p, plain);
            }
        }
        FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        return new FileOutput(p, ch);
    }

    @Override
    public int read(long packId, long position, ByteBuffer dst) throws IOException {
        int start = dst.position();
        try {
            return readFully(reader(packId), position, dst);
        } catch (ClosedByInterruptException e) {
            throw e;
        } catch (ClosedChannelException e) {
            // Another thread evicted (closed) the cached channel mid-read. Retrying through the
            // cache can be evicted again under churn; a private channel nobody else can close
            // finishes the read for certain.
            dst.position(start);
            try (FileChannel own = FileChannel.open(pathOf(packId), StandardOpenOption.READ)) {
                return readFully(own, position, dst);
            }
        }
    }

    private static int readFully(FileChannel ch, long position, ByteBuffer dst) throws IOException {
        int total = 0;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, position + total);
            if (n < 0) {
                return total == 0 ? -1 : total;
            }
            total += n;
        }
        return total;
    }

    private FileChannel reader(long packId) throws IOException {
        FileChannel ch = readers.get(packId);
        if (ch != null && ch.isOpen()) {
            return ch;
        }
        if (readers.size() >= maxOpen) {
            // Bounded file descriptors: close some arbitrary cached channel; a reader of it reopens.
            for (Long victim : readers.keySet()) {
                FileChannel old = readers.remove(victim);
                if (old != null) {
                    old.close();
                }
                if (readers.size() < maxOpen) {
                    break;
                }
            }
        }
        FileChannel opened = FileChannel.open(pathOf(packId), StandardOpenOption.READ);
        FileChannel raced = readers.putIfAbsent(packId, opened);
        if (raced != null && raced.isOpen()) {
            opened.close();
            return raced;
        }
        if (raced != null) {
            readers.put(packId, opened);
        }
        return opened;
    }

    @Override
    public List<PackInfo> list() throws IOException {
        List<PackInfo> out = new ArrayList<>();
        try (DirectoryStream<Path> subdirs = Files.newDirectoryStream(dir)) {
            for (Path sub : subdirs) {
                if (!Files.isDirectory(sub)) {
                    continue;
                }
                try (DirectoryStream<Path> files = Files.newDirectoryStream(sub, "*" + SUFFIX)) {
                    for (Path f : files) {
                        String name = f.getFileName().toString();
                        long id;
                        try {
                            id = Long.parseUnsignedLong(name.substring(0, name.length() - SUFFIX.length()), 16);
                        } catch (NumberFormatException e) {
                            continue; // not ours
                        }
                        try {
                            BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
                            out.add(new PackInfo(id, a.size(), a.lastModifiedTime().toMillis()));
                        } catch (NoSuchFileException gone) {
                            // deleted while listing
                        }
                    }
                }
            }
        }
        return out;
    }

    @Override
    public void delete(long packId) throws IOException {
        FileChannel ch = readers.remove(packId);
        if (ch != null) {
            ch.close();
        }
        Files.deleteIfExists(pathOf(packId));
    }

    @Override
    public void close() throws IOException {
        for (FileChannel ch : readers.values()) {
            ch.close();
        }
        readers.clear();
    }

    /**
     * Buffered packs start their write-back while they are still being written: each time
     * {@link #WRITEBACK_STEP} more bytes have been appended, a data sync runs here, in the
     * background. The seal's fsync then finds most pages already on disk instead of writing the
     * whole pack while a commit waits for it (a 1% incremental's last pack of ~40 MB: 21 ms of
     * its commit). One thread: write-back is the disk's work, not the CPU's.
     */
    private static final long WRITEBACK_STEP = 16L << 20;
    private static final ExecutorService WRITEBACK = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("pack-writeback").daemon().factory());

    private static final class FileOutput implements Output {
        private final Path path;
        private final FileChannel ch;
        private long size;
        private boolean nameDurable;
        /** Where the last background sync started, and that sync (null before the first). */
        private long writebackFrom;
        private Future<?> writeback;

        FileOutput(Path path, FileChannel ch) {
            this.path = path;
            this.ch = ch;
        }

        /** Starts a background data sync once enough is appended, unless the last one still runs. */
        private void startWriteback() throws IOException {
            if (size - writebackFrom < WRITEBACK_STEP || (writeback != null && !writeback.isDone())) {
                return;
            }
            if (writeback != null) {
                awaitWriteback(); // done: this only surfaces its failure, which the pack must not outlive
            }
            writebackFrom = size;
            writeback = WRITEBACK.submit(() -> {
                ch.force(false);
                return null;
            });
        }

        private void awaitWriteback() throws IOException {
            Future<?> f = writeback;
            writeback = null;
            if (f == null) {
                return;
            }
            try {
                f.get();
            } catch (ExecutionException e) {
                throw e.getCause() instanceof IOException io ? io
                        : new IOException("background sync of " + path + " failed: " + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while syncing " + path);
            }
        }

        @Override
        public long append(ByteBuffer... parts) throws IOException {
            long at = size;
            long want = 0;
            for (ByteBuffer b : parts) {
                want += b.remaining();
            }
            long done = 0;
            try {
                while (done < want) {
                    done += ch.write(parts);
                }
            } catch (IOException e) {
                throw failed("writing", path, e);
            }
            size += want;
            startWriteback();
            return at;
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public void sync() throws IOException {
            awaitWriteback(); // its failure fails the seal: a page it could not write may be lost
            nameDurable = force(ch, path, nameDurable);
        }

        @Override
        public void close() throws IOException {
            try {
                awaitWriteback();
            } finally {
                ch.close();
            }
        }
    }

    /**
     * Appends go into an aligned staging buffer; each time it fills, it is written at the next
     * aligned file offset with O_DIRECT. {@link #sync()} writes the partial last block padded
     * with zeros, cuts the file back to its logical size and fsyncs; the partial block stays
     * staged, so appending after a sync rewrites it in place. Nobody reads a pack before it is
     * sealed (its locations are published only then), so staged bytes are never missed.
     */
    static final class DirectFileOutput implements Output {
        /** Bytes per direct write; one staging buffer per pack being written. */
        static final int STAGE = 1 << 20;
        private final Path path;
        private final FileChannel ch;
        private final int align;
        private final ByteBuffer stage;
        /** File offset of the staging buffer's first byte: always a multiple of {@code align}. */
        private long stageAt;
        private long size;
        private boolean nameDurable;

        DirectFileOutput(Path path, FileChannel ch, int align) {
            this.path = path;
            this.ch = ch;
            this.align = align;
            this.stage = ByteBuffer.allocateDirect(STAGE + align).alignedSlice(align).slice(0, STAGE);
        }

        @Override
        public long append(ByteBuffer... parts) throws IOException {
            long at = size;
            for (ByteBuffer part : parts) {
                int from = part.position();
                int left = part.remaining();
                while (left > 0) {
                    int n = Math.min(left, stage.remaining());
                    stage.put(stage.position(), part, from, n).position(stage.position() + n);
                    from += n;
                    left -= n;
                    size += n;
                    if (!stage.hasRemaining()) {
                        writeStage(STAGE);
                        stageAt += STAGE;
                        stage.clear();
                    }
                }
            }
            return at;
        }

        /** Writes the first {@code length} (aligned) bytes of the staging buffer at {@code stageAt}. */
        private void writeStage(int length) throws IOException {
            ByteBuffer out = stage.duplicate().limit(length).position(0);
            long pos = stageAt;
            try {
                while (out.hasRemaining()) {
                    pos += ch.write(out, pos);
                }
            } catch (IOException e) {
                throw failed("writing", path, e);
            }
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public void sync() throws IOException {
            int tail = stage.position();
            if (tail > 0) {
                int padded = (tail + align - 1) / align * align;
                stage.put(tail, ZEROS, 0, padded - tail);
                writeStage(padded);
                ch.truncate(size);
            }
            nameDurable = force(ch, path, nameDurable);
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    private static OpenOption directOption() {
        try {
            return (OpenOption) Class.forName("com.sun.nio.file.ExtendedOpenOption").getField("DIRECT").get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** Zeros to pad a pack's last direct write (less than one block). */
    private static final ByteBuffer ZEROS = ByteBuffer.allocate(MAX_ALIGN).asReadOnlyBuffer();

    /**
     * A pack's sync: its bytes, then (once) its name. Returns true: the name is durable from then on.
     */
    /** An I/O error of a pack that says which pack and what was being done ("No space left on device" alone does not). */
    static IOException failed(String operation, Path pack, IOException e) {
        return e.getMessage() != null && e.getMessage().contains(pack.toString()) ? e
                : new IOException(operation + " " + pack + ": " + e.getMessage(), e);
    }

    private static boolean force(FileChannel ch, Path pack, boolean nameDurable) throws IOException {
        try {
            ch.force(true);
        } catch (IOException e) {
            throw failed("syncing", pack, e);
        }
        if (!nameDurable) {
            fsyncParents(pack);
        }
        return true;
    }

    /**
     * Makes a new pack's name durable: its entry in its directory, and that directory's entry in
     * packs/ the first time this process seals a pack there (a directory an earlier process made
     * may never have been synced if it crashed). Every later seal there saves one fsync, which
     * is a millisecond or more of a commit on a virtual disk.
     */
    private static void fsyncParents(Path pack) throws IOException {
        Path dir = pack.toAbsolutePath().getParent();
        fsyncDir(dir);
        if (!DURABLE_DIRS.contains(dir)) {
            fsyncDir(dir.getParent());
            DURABLE_DIRS.add(dir);
        }
    }

    static void fsyncDir(Path d) throws IOException {
        try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
