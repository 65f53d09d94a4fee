package io.blockmover.index.pack;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/** Packs as files {@code packs/<first two hex digits>/<16 hex digits>.pack} under a directory. */
public final class LocalPackStore implements PackStore {
    private static final String SUFFIX = ".pack";
    /** Open read channels kept: enough for many restores in flight, far below any fd limit. */
    private static final int MAX_OPEN = 128;

    private final Path dir;
    private final int maxOpen;
    private final ConcurrentHashMap<Long, FileChannel> readers = new ConcurrentHashMap<>();

    public LocalPackStore(Path dir) throws IOException {
        this(dir, MAX_OPEN);
    }

    /** With a smaller channel cache, so tests can make evictions happen under every read. */
    LocalPackStore(Path dir, int maxOpen) throws IOException {
        this.maxOpen = maxOpen;
        boolean fresh = !Files.isDirectory(dir);
        this.dir = Files.createDirectories(dir);
        if (fresh) {
            fsyncDir(dir.toAbsolutePath().getParent());
        }
    }

    public Path pathOf(long packId) {
        String hex = HexFormat.of().toHexDigits(packId);
        return dir.resolve(hex.substring(0, 2)).resolve(hex + SUFFIX);
    }

    @Override
    public Output create(long packId) throws IOException {
        Path p = pathOf(packId);
        Files.createDirectories(p.getParent());
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

    private static final class FileOutput implements Output {
        private final Path path;
        private final FileChannel ch;
        private long size;
        private boolean nameDurable;

        FileOutput(Path path, FileChannel ch) {
            this.path = path;
            this.ch = ch;
        }

        @Override
        public long append(ByteBuffer... parts) throws IOException {
            long at = size;
            long want = 0;
            for (ByteBuffer b : parts) {
                want += b.remaining();
            }
            long done = 0;
            while (done < want) {
                done += ch.write(parts);
            }
            size += want;
            return at;
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public void sync() throws IOException {
            ch.force(true);
            if (!nameDurable) {
                fsyncDir(path.getParent());
                fsyncDir(path.getParent().getParent());
                nameDurable = true;
            }
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    static void fsyncDir(Path d) throws IOException {
        try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
