package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.blockmover.nbd.protocol.NbdConstants.*;
import static io.blockmover.nbd.protocol.Wire.*;
import static org.junit.jupiter.api.Assertions.*;

/** Requests and replies in both directions, byte for byte against proto.md layouts. */
class TransmissionCodecTest {

    private static void assertRequest(NbdRequest request, String wire) {
        String data = hex(ByteBufUtil.getBytes(request.data()));
        EmbeddedChannel client = new EmbeddedChannel(new ClientCodec(cookie -> ReplyLengths.UNKNOWN));
        client.writeOutbound(request);
        assertEquals(hex(bytes(wire)), hex(drainOutbound(client)));

        EmbeddedChannel server = new EmbeddedChannel(new ServerCodec());
        server.writeInbound(buf(wire));
        NbdRequest decoded = server.readInbound();
        assertEquals(request.flags(), decoded.flags());
        assertEquals(request.type(), decoded.type());
        assertEquals(request.cookie(), decoded.cookie());
        assertEquals(request.offset(), decoded.offset());
        assertEquals(request.length(), decoded.length());
        assertEquals(data, hex(ByteBufUtil.getBytes(decoded.data())));
        decoded.release();
        assertNull(server.readInbound());
    }

    /** Replies: the server encodes to the layout, a client told the READ lengths decodes the same record. */
    private static NbdReply assertReply(NbdReply reply, String wire, Map<Long, Long> readLengths) {
        EmbeddedChannel server = new EmbeddedChannel(new ServerCodec());
        if (reply instanceof DataHolder d) {
            d.retain();
        }
        server.writeOutbound(reply);
        assertEquals(hex(bytes(wire)), hex(drainOutbound(server)));

        EmbeddedChannel client = new EmbeddedChannel(new ClientCodec(c -> readLengths.getOrDefault(c, ReplyLengths.UNKNOWN)));
        client.writeInbound(buf(wire));
        NbdReply decoded = client.readInbound();
        assertNull(client.readInbound());
        return decoded;
    }

    @Test
    void readRequest() {
        assertRequest(NbdRequest.read(1, 4096, 512, CMD_FLAG_DF),
                "25609513 0004 0000 0000000000000001 0000000000001000 00000200");
    }

    @Test
    void writeRequestCarriesItsData() {
        assertRequest(NbdRequest.write(0x0102030405060708L, 1L << 33, Unpooled.wrappedBuffer(bytes("\"abcd\"")), CMD_FLAG_FUA),
                "25609513 0001 0001 0102030405060708 0000000200000000 00000004 \"abcd\"");
    }

    @Test
    void commandsWithoutData() {
        assertRequest(NbdRequest.command(CMD_DISC, 9, 0, 0, 0),
                "25609513 0000 0002 0000000000000009 0000000000000000 00000000");
        assertRequest(NbdRequest.command(CMD_FLUSH, 10, 0, 0, 0),
                "25609513 0000 0003 000000000000000a 0000000000000000 00000000");
        assertRequest(NbdRequest.command(CMD_TRIM, 11, 65536, 1L << 20, CMD_FLAG_FUA),
                "25609513 0001 0004 000000000000000b 0000000000010000 00100000");
        assertRequest(NbdRequest.command(CMD_CACHE, 12, 0, 4096, 0),
                "25609513 0000 0005 000000000000000c 0000000000000000 00001000");
        assertRequest(NbdRequest.command(CMD_WRITE_ZEROES, 13, 512, 0xFFFFFFFFL, CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO),
                "25609513 0012 0006 000000000000000d 0000000000000200 ffffffff");
        assertRequest(NbdRequest.command(CMD_BLOCK_STATUS, 14, 0, 1L << 30, CMD_FLAG_REQ_ONE),
                "25609513 0008 0007 000000000000000e 0000000000000000 40000000");
    }

    @Test
    void simpleReplies() {
        assertEquals(NbdReply.Simple.ok(7), assertReply(NbdReply.Simple.ok(7),
                "67446698 00000000 0000000000000007", Map.of(7L, 0L)));
        assertEquals(NbdReply.Simple.error(8, EIO), assertReply(NbdReply.Simple.error(8, EIO),
                "67446698 00000005 0000000000000008", Map.of()));
    }

    @Test
    void simpleReadReplyIsASliceOfTheReceiveBuffer() {
        NbdReply.Simple reply = new NbdReply.Simple(3, 0, Unpooled.wrappedBuffer(bytes("\"data\"")));
        NbdReply.Simple decoded = (NbdReply.Simple) assertReply(reply,
                "67446698 00000000 0000000000000003 \"data\"", Map.of(3L, 4L));
        assertEquals("data", decoded.data().toString(java.nio.charset.StandardCharsets.US_ASCII));
        assertNotNull(decoded.data().unwrap(), "READ data must be a slice, not a copy");
        decoded.release();
        reply.release();
    }

    @Test
    void offsetDataChunk() {
        NbdReply.OffsetData chunk = new NbdReply.OffsetData(5, true, 8192, Unpooled.wrappedBuffer(bytes("aabbcc")));
        NbdReply.OffsetData decoded = (NbdReply.OffsetData) assertReply(chunk,
                "668e33ef 0001 0001 0000000000000005 0000000b 0000000000002000 aabbcc", Map.of());
        assertEquals(5, decoded.cookie());
        assertTrue(decoded.done());
        assertEquals(8192, decoded.offset());
        assertEquals("aabbcc", hex(ByteBufUtil.getBytes(decoded.data())));
        assertNotNull(decoded.data().unwrap(), "READ data must be a slice, not a copy");
        decoded.release();
        chunk.release();
    }

    @Test
    void offsetHoleChunk() {
        NbdReply chunk = new NbdReply.OffsetHole(5, false, 4096, 65536);
        assertEquals(chunk, assertReply(chunk, "668e33ef 0000 0002 0000000000000005 0000000c 0000000000001000 00010000", Map.of()));
    }

    @Test
    void blockStatusChunk() {
        NbdReply chunk = new NbdReply.BlockStatus(6, true, 1,
                List.of(new BlockStatusDescriptor(65536, 0), new BlockStatusDescriptor(1L << 20, STATE_HOLE | STATE_ZERO)));
        assertEquals(chunk, assertReply(chunk,
                "668e33ef 0001 0005 0000000000000006 00000014 00000001 00010000 00000000 00100000 00000003", Map.of()));
    }

    @Test
    void errorChunks() {
        NbdReply error = new NbdReply.Error(7, true, EIO, "bad");
        assertEquals(error, assertReply(error, "668e33ef 0001 8001 0000000000000007 00000009 00000005 0003 \"bad\"", Map.of()));
        NbdReply errorOffset = new NbdReply.ErrorOffset(7, false, EIO, "x", 512);
        assertEquals(errorOffset, assertReply(errorOffset,
                "668e33ef 0000 8002 0000000000000007 0000000f 00000005 0001 \"x\" 0000000000000200", Map.of()));
    }

    @Test
    void noneChunk() {
        NbdReply none = new NbdReply.None(8);
        assertEquals(none, assertReply(none, "668e33ef 0001 0000 0000000000000008 00000000", Map.of()));
    }

    @Test
    void unknownErrorChunkTypeReadsAsError() {
        EmbeddedChannel client = new EmbeddedChannel(new ClientCodec(c -> ReplyLengths.UNKNOWN));
        client.writeInbound(buf("668e33ef 0001 8007 0000000000000008 00000008 00000016 0000 abcd"));
        assertEquals(new NbdReply.Error(8, true, EINVAL, ""), client.readInbound());
    }

    @Test
    void manyRepliesInOneBufferAndSplitAtEveryByte() {
        byte[] wire = bytes("67446698 00000000 0000000000000001 \"abcd\""
                + "668e33ef 0000 0002 0000000000000002 0000000c 0000000000001000 00010000"
                + "668e33ef 0001 0000 0000000000000002 00000000");
        EmbeddedChannel client = new EmbeddedChannel(new ClientCodec(c -> c == 1 ? 4 : ReplyLengths.UNKNOWN));
        for (byte b : wire) {
            client.writeInbound(Unpooled.wrappedBuffer(new byte[] {b}));
        }
        NbdReply.Simple first = client.readInbound();
        assertEquals("abcd", first.data().toString(java.nio.charset.StandardCharsets.US_ASCII));
        first.release();
        assertEquals(new NbdReply.OffsetHole(2, false, 4096, 65536), client.readInbound());
        assertEquals(new NbdReply.None(2), client.readInbound());
        assertNull(client.readInbound());
    }

    @Test
    void writeDataIsReleasedOnceEncoded() {
        ByteBuf data = Unpooled.directBuffer().writeBytes(bytes("01020304"));
        EmbeddedChannel client = new EmbeddedChannel(new ClientCodec(c -> 0));
        client.writeOutbound(NbdRequest.write(1, 0, data, 0));
        drainOutbound(client);
        assertEquals(0, data.refCnt());
    }
}
