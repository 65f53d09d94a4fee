package io.blockmover.index;

import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.ChunkKeys;
import io.blockmover.index.chunk.FrameCodec;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.FrameTable;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.pack.PackRecords;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.blockmover.index.format.PackFormat.H_HEADER_CRC;
import static io.blockmover.index.format.PackFormat.H_PAYLOAD_CRC;
import static io.blockmover.index.format.PackFormat.RECORD_HEADER;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random and mutated bytes into the frame readers, like {@link ReaderPropertiesTest} for chunk
 * records: the frame table decoder takes only tables that add up, and a frame record with bytes
 * changed behind recomputed CRCs is refused with the chunk's own error or decodes to exactly
 * what was stored, whichever prefix of it a reader asks for.
 */
class FramePropertiesTest {
    private static final int CHUNK = 16 << 10;
    private static ChunkCodec plain;
    private static ChunkCodec sealed;

    @BeforeContainer
    static void codecs() {
        plain = new ChunkCodec(CHUNK, 1, null);
        byte[] material = new byte[ChunkKeys.MATERIAL_LENGTH];
        Arrays.fill(material, (byte) 9);
        sealed = new ChunkCodec(CHUNK, 1, ChunkKeys.fromMaterial(material));
    }

    @AfterContainer
    static void close() {
        plain.close();
        sealed.close();
    }

    @Property
    void tablesFromRandomBytes(@ForAll @Size(max = 600) byte[] bytes, @ForAll @IntRange(min = 0, max = 1 << 20) int plainLength) {
        try {
            FrameTable t = FrameTable.decode(ByteBuffer.wrap(bytes), plainLength);
            assertEquals(plainLength, t.plainLength());
            assertTrue(t.encodedLength() <= bytes.length);
        } catch (IllegalArgumentException expected) {
            // the decoder's own error
        }
    }

    @Property
    void tablesRoundTrip(@ForAll("lengths") List<Integer> lengths) {
        List<ChunkId> ids = new ArrayList<>();
        for (int i = 0; i < lengths.size(); i++) {
            byte[] id = new byte[ChunkId.LENGTH];
            Arrays.fill(id, (byte) (i + 1));
            ids.add(ChunkId.wrap(id));
        }
        FrameTable t = new FrameTable(ids, lengths.stream().mapToInt(Integer::intValue).toArray());
        FrameTable back = FrameTable.decode(t.encode(), t.plainLength());
        assertEquals(t.ids(), back.ids());
        assertArrayEquals(t.lengths(), back.lengths());
        for (int i = 0; i < t.count(); i++) {
            assertEquals(i, back.slotOf(ids.get(i), back.offset(i)));
        }
    }

    @Provide
    Arbitrary<List<Integer>> lengths() {
        return Arbitraries.integers().between(1, 1 << 16).list().ofMinSize(1).ofMaxSize(PackFormat.MAX_FRAME_CHUNKS);
    }

    @Provide
    Arbitrary<List<byte[]>> frames() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(CHUNK);
        Arbitrary<byte[]> compressible = Arbitraries.integers().between(1, CHUNK).map(n -> {
            byte[] b = new byte[n];
            for (int i = 0; i < n; i++) {
                b[i] = (byte) ("frames " .charAt(i % 7) + (i / 997) % 3);
            }
            return b;
        });
        return Arbitraries.oneOf(random, compressible, compressible).list().ofMinSize(1).ofMaxSize(8);
    }

    @Provide
    Arbitrary<List<Integer>> mutations() {
        return Arbitraries.integers().between(0, Integer.MAX_VALUE).list().ofMaxSize(8);
    }

    @Property(tries = 200)
    void frameRecordsMutatedBehindTheirChecksums(@ForAll("frames") List<byte[]> chunks, @ForAll("mutations") List<Integer> flips,
                                                 @ForAll boolean encrypted, @ForAll @IntRange(min = 0, max = 3) int cut,
                                                 @ForAll @IntRange(min = 0, max = 7) int wanted) {
        ChunkCodec codec = encrypted ? sealed : plain;
        FrameCodec frames = codec.frames();
        int total = chunks.stream().mapToInt(c -> c.length).sum();
        frames.begin(total);
        List<ChunkId> ids = new ArrayList<>();
        for (byte[] c : chunks) {
            ChunkId id = codec.digest(ByteBuffer.wrap(c));
            ids.add(id);
            frames.add(id, ByteBuffer.wrap(c));
        }
        FrameCodec.Encoded e = frames.finish(false);
        ByteBuffer[] parts = PackRecords.frame(e.table(), e.flags(), e.body());
        int length = Arrays.stream(parts).mapToInt(ByteBuffer::remaining).sum();
        ByteBuffer record = ByteBuffer.allocate(length);
        for (ByteBuffer p : parts) {
            record.put(p.duplicate());
        }
        byte[] bytes = Arrays.copyOf(record.array(), length - (cut == 0 ? 0 : Math.min(length, flips.size() * cut)));
        for (int f : flips) {
            if (bytes.length > 0) {
                bytes[f % bytes.length] ^= (byte) (1 + (f >>> 16) % 255);
            }
        }
        if (bytes.length >= RECORD_HEADER) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            int payloadLength = Math.max(0, Math.min(b.getInt(PackFormat.H_PAYLOAD), bytes.length - RECORD_HEADER));
            b.putInt(H_PAYLOAD_CRC, PackFormat.crc(b, RECORD_HEADER, payloadLength));
            b.putInt(H_HEADER_CRC, PackFormat.crc(b, 0, H_HEADER_CRC));
        }
        int slot = wanted % chunks.size();
        int at = e.table().offset(slot);
        ChunkId id = ids.get(slot);
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            try {
                PackRecords.FramePayload f = PackRecords.openFrame(ByteBuffer.wrap(bytes), id, at, PackFormat.MAX_FRAME_PLAIN);
                byte[] out = frames.decodeToArray(f, at + chunks.get(slot).length, id.hex());
                byte[] got = Arrays.copyOfRange(out, at, at + chunks.get(slot).length);
                // A reader checks the digest last (FrameCache): a frame that got this far and
                // passes it holds exactly the chunk.
                if (codec.digest(ByteBuffer.wrap(got)).equals(id)) {
                    assertArrayEquals(chunks.get(slot), got);
                } else {
                    assertTrue(!flips.isEmpty() || cut > 0, "an intact frame decodes to its chunks");
                }
            } catch (Throwable t) {
                assertInstanceOf(ChunkDamagedException.class, t, "only the reader's own error: " + t);
                assertTrue(!flips.isEmpty() || cut > 0, "an intact frame is read: " + t);
            }
        });
    }
}
