package io.blockmover.index.manifest;

import io.blockmover.index.format.ChunkId;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A manifest under construction: a sparse temp file of 32-byte entries written at their chunk
 * index from any thread, plus a bitmap of written entries (a 1 TiB disk at 1 MiB chunks: a
 * 32 MiB file, 128 KiB of heap). Never visible to readers; deleted on commit or abort, and gc
 * clears leftovers of a crashed process.
 */
public final class StagedManifest implements AutoCloseable {
    private static final byte[] ZERO = new byte[ManifestKeys.ENTRY];
    private static final byte[] ZERO_SEGMENT = new byte[ManifestKeys.SEGMENT_ENTRIES * ManifestKeys.ENTRY];

    private final Path file;
    private final FileChannel ch;
    private final long chunkCount;
    private final AtomicLongArray written;

    public StagedManifest(Path file, long chunkCount) throws IOException {
        this.file = file;
        this.chunkCount = chunkCount;
        this.ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
        this.written = new AtomicLongArray((int) ((chunkCount + 63) >>> 6));
    }

    public long chunkCount() {
        return chunkCount;
    }

    public void set(long index, ChunkId id) throws IOException {
        write(ByteBuffer.wrap(id == null ? ZERO : id.bytes()), index);
        mark(index, 1);
    }

    /** Marks {@code count} entries from {@code index} as zero chunks, in segment-sized writes. */
    public void setZeros(long index, long count) throws IOException {
        long i = index;
        long end = index + count;
        while (i < end) {
            int n = (int) Math.min(ManifestKeys.SEGMENT_ENTRIES, end - i);
            write(ByteBuffer.wrap(ZERO_SEGMENT, 0, n * ManifestKeys.ENTRY), i);
            mark(i, n);
            i += n;
        }
    }

    /** Copies {@code count} entries starting at entry {@code from} of {@code segment} to {@code index}. */
    public void setRun(long index, byte[] segment, int from, int count) throws IOException {
        write(ByteBuffer.wrap(segment, from * ManifestKeys.ENTRY, count * ManifestKeys.ENTRY), index);
        mark(index, count);
    }

    private void write(ByteBuffer b, long index) throws IOException {
        long pos = index * ManifestKeys.ENTRY;
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
    }

    private void mark(long index, int count) {
        for (long i = index; i < index + count; i++) {
            int word = (int) (i >>> 6);
            long bit = 1L << (i & 63);
            long v;
            do {
                v = written.get(word);
            } while ((v & bit) == 0 && !written.compareAndSet(word, v, v | bit));
        }
    }

    /** The first chunk index never written, or -1 when the manifest is complete. */
    public long firstMissing() {
        for (int w = 0; w < written.length(); w++) {
            long v = written.get(w);
            long want = w == written.length() - 1 && (chunkCount & 63) != 0 ? (1L << (chunkCount & 63)) - 1 : -1L;
            if (v != want) {
                return ((long) w << 6) + Long.numberOfTrailingZeros(~v);
            }
        }
        return -1;
    }

    /** Reads segment {@code segment} into {@code buf} (at least 32 KiB); returns its length in bytes. */
    public int readSegment(int segment, byte[] buf) throws IOException {
        long first = (long) segment * ManifestKeys.SEGMENT_ENTRIES;
        int entries = (int) Math.min(ManifestKeys.SEGMENT_ENTRIES, chunkCount - first);
        ByteBuffer b = ByteBuffer.wrap(buf, 0, entries * ManifestKeys.ENTRY);
        long pos = first * ManifestKeys.ENTRY;
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                // Sparse tail never written: only possible for entries that firstMissing() reports.
                break;
            }
            pos += n;
        }
        return entries * ManifestKeys.ENTRY;
    }

    @Override
    public void close() throws IOException {
        ch.close();
        Files.deleteIfExists(file);
    }
}
