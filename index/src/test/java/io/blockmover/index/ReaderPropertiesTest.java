package io.blockmover.index;

import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.ChunkKeys;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.pack.PackRecords;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

import static io.blockmover.index.format.PackFormat.H_HEADER_CRC;
import static io.blockmover.index.format.PackFormat.H_PAYLOAD_CRC;
import static io.blockmover.index.format.PackFormat.RECORD_HEADER;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random and mutated bytes into the readers of what a repository stores: backup records (the
 * catalog and its copy in packs), pack headers, and chunk records (framing, then payload), mutated the way a bug or an
 * attacker would, with their CRCs recomputed so the checks behind the CRC (lengths, GCM tag,
 * zstd frame, digest) are reached. Nothing but the reader's own error escapes, a record never
 * makes the reader allocate beyond its chunk size, and nothing returns wrong data.
 */
class ReaderPropertiesTest {
    private static final int CHUNK = 64 << 10;
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private static ChunkCodec plain;
    private static ChunkCodec sealed;

    @BeforeContainer
    static void codecs() {
        plain = new ChunkCodec(CHUNK, 3, null);
        byte[] material = new byte[ChunkKeys.MATERIAL_LENGTH];
        Arrays.fill(material, (byte) 7);
        sealed = new ChunkCodec(CHUNK, 3, ChunkKeys.fromMaterial(material));
    }

    @AfterContainer
    static void close() {
        plain.close();
        sealed.close();
    }

    @Property
    void backupRecordsFromRandomBytes(@ForAll @Size(max = 512) byte[] bytes) {
        decodeRecord(bytes);
    }

    @Property
    void backupRecordsMutated(@ForAll("mutations") List<Integer> flips, @ForAll @IntRange(min = 0, max = 200) int cut) {
        DiskRecord d = new DiskRecord(0, "disk-2000", 1L << 30, CHUNK, "52 2b 1c/4", 10, 20, 5, 1234);
        byte[] valid = new BackupRecord(7, "vm01", "nightly", 6, Instant.ofEpochMilli(1000), Instant.ofEpochMilli(2000), 99,
                List.of(d, new DiskRecord(1, "disk-2001", 1L << 20, CHUNK, "", 1, 1, 1, 1))).encode();
        byte[] b = Arrays.copyOf(valid, Math.max(1, valid.length - cut % valid.length));
        mutate(b, flips);
        decodeRecord(b);
    }

    private static void decodeRecord(byte[] bytes) {
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            long before = THREADS.getCurrentThreadAllocatedBytes();
            try {
                BackupRecord r = BackupRecord.decode(bytes);
                assertTrue(r.disks().size() <= bytes.length / 8, "every disk took bytes");
            } catch (IllegalArgumentException expected) {
                // the decoder's own error
            }
            long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < (1 << 20) + 64L * bytes.length, "allocated " + allocated + " for " + bytes.length + " bytes");
        });
    }

    @Property
    void packHeadersFromRandomBytes(@ForAll @Size(min = 0, max = 64) byte[] bytes) {
        try {
            PackFormat.readFileHeader(ByteBuffer.wrap(bytes));
        } catch (IllegalArgumentException expected) {
            // not a pack
        }
    }

    @Property
    void packHeadersMutated(@ForAll("mutations") List<Integer> flips) {
        ByteBuffer b = ByteBuffer.allocate(PackFormat.FILE_HEADER);
        PackFormat.writeFileHeader(b, 42);
        byte[] bytes = b.array();
        mutate(bytes, flips);
        try {
            long id = PackFormat.readFileHeader(ByteBuffer.wrap(bytes));
            assertTrue(flips.isEmpty() || id == 42 || Arrays.equals(bytes, b.array()), "a damaged header is not taken");
        } catch (IllegalArgumentException expected) {
            // damage detected
        }
    }

    @Provide
    Arbitrary<List<Integer>> mutations() {
        return Arbitraries.integers().between(0, Integer.MAX_VALUE).list().ofMaxSize(8);
    }

    @Provide
    Arbitrary<byte[]> chunks() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(CHUNK);
        Arbitrary<byte[]> compressible = Combinators.combine(Arbitraries.integers().between(1, CHUNK), Arbitraries.bytes())
                .as((n, v) -> {
                    byte[] b = new byte[n];
                    Arrays.fill(b, 0, n / 2, v);
                    return b;
                });
        return Arbitraries.oneOf(random, compressible);
    }

    /**
     * A stored chunk record with bytes changed (header fields, payload, or the record cut short)
     * and both CRCs made right again: the decoder must refuse it or return exactly the chunk.
     */
    @Property(tries = 200)
    void chunkRecordsMutatedBehindTheirChecksums(@ForAll("chunks") byte[] chunk, @ForAll("mutations") List<Integer> flips,
                                                 @ForAll boolean encrypted, @ForAll @IntRange(min = 0, max = 3) int cut) {
        ChunkCodec codec = encrypted ? sealed : plain;
        ChunkId id = codec.digest(ByteBuffer.wrap(chunk));
        ByteBuffer[] parts = PackRecords.frameChunk(id, codec.encode(id, ByteBuffer.wrap(chunk)));
        ByteBuffer record = ByteBuffer.allocate(parts[0].remaining() + parts[1].remaining());
        for (ByteBuffer p : parts) {
            record.put(p.duplicate());
        }
        byte[] bytes = Arrays.copyOf(record.array(), record.capacity() - (cut == 0 ? 0 : flips.size() * cut));
        mutate(bytes, flips);
        if (bytes.length >= RECORD_HEADER) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            int payloadLength = Math.max(0, Math.min(b.getInt(PackFormat.H_PAYLOAD), bytes.length - RECORD_HEADER));
            b.putInt(H_PAYLOAD_CRC, PackFormat.crc(b, RECORD_HEADER, payloadLength));
            b.putInt(H_HEADER_CRC, PackFormat.crc(b, 0, H_HEADER_CRC));
        }
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            ByteBuffer dst = ByteBuffer.allocate(CHUNK);
            long before = THREADS.getCurrentThreadAllocatedBytes();
            try {
                int n = codec.decode(PackRecords.openChunk(ByteBuffer.wrap(bytes), id, CHUNK), id, dst);
                assertArrayEquals(chunk, Arrays.copyOf(dst.array(), n), "a record that decodes is the chunk itself");
            } catch (Throwable t) {
                assertInstanceOf(ChunkDamagedException.class, t, "only the reader's own error: " + t);
            }
            long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < 4L * CHUNK + (1 << 20), "allocated " + allocated);
        });
    }

    private static void mutate(byte[] b, List<Integer> flips) {
        for (int f : flips) {
            if (b.length > 0) {
                b[f % b.length] ^= (byte) (1 + (f >>> 16) % 255);
            }
        }
    }
}
