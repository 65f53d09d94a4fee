package io.blockmover.mover.export;

import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;

/**
 * Guest writes to an exported backup, kept outside the repository: a sparse data file as large
 * as the disk, and a map file with one bit per chunk saying which chunks the data file holds
 * (whole chunks: the first write to one copies the backup's chunk in). A FLUSH makes the data
 * durable first, then the map, so after a crash the map never names data that was not synced.
 * The map's header names the repository, backup, disk and geometry it belongs to, so a restart
 * with other arguments cannot apply it to the wrong disk; an OS lock keeps two exports off it.
 */
final class Overlay implements AutoCloseable {
    /** Header of the map file: one line of text, padded, then the bitmap. */
    private static final int HEADER = 4096;
    private static final int PAGE = 4096;
    private static final String MAGIC = "blockmover-overlay 1";

    /** What an overlay belongs to; a restart must present the same. */
    record Identity(String repoId, long backupId, String diskId, long capacity, int chunkSize) {
        String headerLine() {
            return MAGIC + " repo=" + repoId + " backup=" + backupId + " disk=" + diskId + " capacity=" + capacity
                    + " chunk=" + chunkSize + "\n";
        }
    }

    private final Path dataFile;
    private final FileChannel data;
    private final FileChannel map;
    private final FileLock lock;
    private final byte[] bits;
    private final BitSet dirtyPages = new BitSet();
    private final int chunkSize;

    private Overlay(Path dataFile, FileChannel data, FileChannel map, FileLock lock, byte[] bits, int chunkSize) {
        this.dataFile = dataFile;
        this.data = data;
        this.map = map;
        this.lock = lock;
        this.bits = bits;
        this.chunkSize = chunkSize;
    }

    /** The overlay files of one exported disk in {@code dir}: {@code <name>.overlay} and {@code <name>.map}. */
    static Overlay open(Path dir, String name, Identity id) throws IOException {
        Files.createDirectories(dir);
        Path mapFile = dir.resolve(name + ".map");
        Path dataFile = dir.resolve(name + ".overlay");
        int bitmapBytes = Math.toIntExact((id.capacity() / id.chunkSize() + 8) / 8);
        FileChannel map = FileChannel.open(mapFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileChannel data = null;
        try {
            FileLock lock;
            try {
                lock = map.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new IOException("the overlay " + mapFile + " is in use by another export");
            }
            byte[] bits = new byte[bitmapBytes];
            if (map.size() == 0) {
                ByteBuffer header = ByteBuffer.allocate(HEADER);
                header.put(id.headerLine().getBytes(StandardCharsets.US_ASCII)).clear();
                writeFully(map, header, 0);
                writeFully(map, ByteBuffer.wrap(bits), HEADER);
                map.force(true);
            } else {
                ByteBuffer header = ByteBuffer.allocate(HEADER);
                readFully(map, header, 0, mapFile);
                String line = new String(header.array(), StandardCharsets.US_ASCII);
                line = line.substring(0, Math.max(0, line.indexOf('\n') + 1));
                if (!line.equals(id.headerLine())) {
                    throw new IOException("the overlay " + mapFile + " belongs to another export (" + line.strip()
                            + "); move it away or export the backup it was made for");
                }
                ByteBuffer b = ByteBuffer.wrap(bits);
                readFully(map, b, HEADER, mapFile);
            }
            data = FileChannel.open(dataFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            return new Overlay(dataFile, data, map, lock, bits, id.chunkSize());
        } catch (IOException | RuntimeException e) {
            if (data != null) {
                data.close();
            }
            map.close();
            throw e;
        }
    }

    Path dataFile() {
        return dataFile;
    }

    /** True when the data file holds the chunk at {@code chunkStart}. */
    boolean holds(long chunkStart) {
        long i = chunkStart / chunkSize;
        synchronized (bits) {
            return (bits[(int) (i >>> 3)] & (1 << (i & 7))) != 0;
        }
    }

    /** Records that the data file now holds the chunk; durable at the next {@link #flush}. */
    void mark(long chunkStart) {
        long i = chunkStart / chunkSize;
        int at = (int) (i >>> 3);
        synchronized (bits) {
            bits[at] |= (byte) (1 << (i & 7));
            dirtyPages.set(at / PAGE);
        }
    }

    void read(long offset, int length, ByteBuf dst) throws IOException {
        int done = 0;
        while (done < length) {
            int n = dst.writeBytes(data, offset + done, length - done);
            if (n < 0) {
                // Past the data file's end: the region was never written (cannot happen for a marked chunk).
                dst.writeZero(length - done);
                return;
            }
            done += n;
        }
    }

    void write(long offset, ByteBuffer src) throws IOException {
        writeFully(data, src, offset);
    }

    /** Data first, then the map pages changed since the last flush. */
    void flush() throws IOException {
        data.force(false);
        byte[] copy;
        BitSet pages;
        synchronized (bits) {
            if (dirtyPages.isEmpty()) {
                return;
            }
            copy = bits.clone();
            pages = (BitSet) dirtyPages.clone();
            dirtyPages.clear();
        }
        try {
            for (int p = pages.nextSetBit(0); p >= 0; p = pages.nextSetBit(p + 1)) {
                int from = p * PAGE;
                writeFully(map, ByteBuffer.wrap(copy, from, Math.min(PAGE, copy.length - from)), HEADER + (long) from);
            }
            map.force(false);
        } catch (IOException e) {
            synchronized (bits) {
                dirtyPages.or(pages);
            }
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            flush();
        } finally {
            lock.release();
            map.close();
            data.close();
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer src, long position) throws IOException {
        long pos = position;
        while (src.hasRemaining()) {
            pos += ch.write(src, pos);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer dst, long position, Path file) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, pos);
            if (n < 0) {
                throw new IOException("the overlay map " + file + " is truncated");
            }
            pos += n;
        }
    }
}
