package io.blockmover.index;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.ChunkKeys;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.pack.PackRecords;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ChunkCodecTest {

    @ParameterizedTest
    @CsvSource({"65536,false,true", "1048576,false,true", "1048576,true,true", "1048576,false,false", "4194304,true,false"})
    void recordsRoundTripAndCompressOnlyWhenItPays(int size, boolean encrypted, boolean direct) throws Exception {
        ChunkKeys keys = encrypted ? ChunkKeys.fromMaterial(new byte[64]) : null;
        try (ChunkCodec codec = new ChunkCodec(size, 1, keys)) {
            // Several chunks in a row: buffers are reused between calls.
            for (int round = 0; round < 3; round++) {
                for (Kind kind : new Kind[] {Kind.TEXT, Kind.RANDOM, Kind.TEXT}) {
                    byte[] plain = TestData.bytes(kind, round * 10 + kind.ordinal(), size);
                    ByteBuffer in = direct ? ByteBuffer.allocateDirect(size).put(plain).flip() : ByteBuffer.wrap(plain);
                    assertFalse(codec.isZero(in));
                    ChunkId id = codec.digest(in);
                    if (!encrypted) {
                        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(plain)), id.hex());
                    }
                    ByteBuffer[] rec = PackRecords.frameChunk(id, codec.encode(id, in));
                    assertEquals(0, in.position(), "input not moved");
                    int flags = rec[0].get(PackFormat.H_FLAGS);
                    assertEquals(kind == Kind.TEXT, (flags & PackFormat.FLAG_ZSTD) != 0, kind + " compressed?");
                    assertEquals(encrypted, (flags & PackFormat.FLAG_AES_GCM) != 0);
                    if (kind == Kind.TEXT) {
                        assertTrue(rec[1].remaining() < size / 2, "text compresses");
                    }
                    ByteBuffer whole = ByteBuffer.allocate(rec[0].remaining() + rec[1].remaining());
                    whole.put(rec[0].duplicate()).put(rec[1].duplicate()).flip();
                    ByteBuffer out = direct ? ByteBuffer.allocateDirect(size) : ByteBuffer.allocate(size);
                    assertEquals(size, codec.decode(PackRecords.openChunk(whole, id, size), id, out));
                    byte[] got = new byte[size];
                    out.flip().get(got);
                    assertArrayEquals(plain, got);

                    // One flipped payload bit is caught.
                    ByteBuffer bad = ByteBuffer.allocate(whole.remaining()).put(whole.duplicate()).flip();
                    int at = PackFormat.RECORD_HEADER + (bad.remaining() - PackFormat.RECORD_HEADER) / 2;
                    bad.put(at, (byte) (bad.get(at) ^ 1));
                    assertThrows(ChunkDamagedException.class, () -> codec.decode(PackRecords.openChunk(bad, id, size), id, ByteBuffer.allocate(size)));
                }
            }
            assertTrue(codec.isZero(ByteBuffer.allocateDirect(size)));
        }
    }
}
