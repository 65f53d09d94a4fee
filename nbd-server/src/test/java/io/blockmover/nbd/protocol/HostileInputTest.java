package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import static io.blockmover.nbd.protocol.NbdConstants.*;
import static io.blockmover.nbd.protocol.Wire.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Malformed or hostile bytes: each decoder fails once with {@link NbdProtocolException} and
 * then swallows input silently (no exception loop), or, where the spec allows, reports the
 * problem as a message for an error reply without buffering the junk.
 */
class HostileInputTest {

    private static void assertFailsOnceThenSwallows(EmbeddedChannel channel, String bad) {
        NbdProtocolException e = assertThrows(NbdProtocolException.class, () -> channel.writeInbound(buf(bad)));
        assertNotNull(e.getMessage());
        channel.writeInbound(buf("00".repeat(100)));
        channel.checkException();
        assertNull(channel.readInbound());
    }

    @Test
    void badOptionMagic() {
        EmbeddedChannel server = new EmbeddedChannel(new ServerHandshakeCodec());
        server.writeInbound(buf("00000003"));
        server.readInbound();
        assertFailsOnceThenSwallows(server, "0000000000000000 00000001 00000000");
    }

    @Test
    void oversizedOptionIsDiscardedAsItArrivesThenReportedTooBig() {
        EmbeddedChannel server = new EmbeddedChannel(new ServerHandshakeCodec(1024));
        server.writeInbound(buf("00000003 49484156454F5054 00000001 00100000"));
        server.readInbound();
        for (int i = 0; i < 16; i++) {
            ByteBuf junk = Unpooled.wrappedBuffer(new byte[65536]);
            server.writeInbound(junk);
            assertEquals(0, junk.refCnt(), "skipped data is released, not accumulated");
        }
        assertEquals(new OptionRequest.TooBig(OPT_EXPORT_NAME, 1 << 20), server.readInbound());
        server.writeInbound(buf("49484156454F5054 00000002 00000000"));
        assertEquals(new OptionRequest.Abort(), server.readInbound());
    }

    @Test
    void malformedOptionsAreReportedNotThrown() {
        EmbeddedChannel server = new EmbeddedChannel(new ServerHandshakeCodec());
        server.writeInbound(buf("00000003"));
        server.readInbound();
        // INFO with a request count that does not match its length
        server.writeInbound(buf("49484156454F5054 00000006 00000009 00000001 \"a\" 0005 0001"));
        assertInstanceOf(OptionRequest.Malformed.class, server.readInbound());
        // export name length beyond the option
        server.writeInbound(buf("49484156454F5054 00000007 00000006 000000ff 0000"));
        assertInstanceOf(OptionRequest.Malformed.class, server.readInbound());
        // LIST with data
        server.writeInbound(buf("49484156454F5054 00000003 00000001 00"));
        assertInstanceOf(OptionRequest.Malformed.class, server.readInbound());
        // SET_META_CONTEXT claiming 2^32-1 queries
        server.writeInbound(buf("49484156454F5054 0000000a 00000008 00000000 ffffffff"));
        assertInstanceOf(OptionRequest.Malformed.class, server.readInbound());
        // and the stream is still in sync
        server.writeInbound(buf("49484156454F5054 00000008 00000000"));
        assertEquals(new OptionRequest.StructuredReply(), server.readInbound());
    }

    @Test
    void badRequestMagic() {
        assertFailsOnceThenSwallows(new EmbeddedChannel(new ServerCodec()),
                "deadbeef 0000 0000 0000000000000001 0000000000000000 00000200");
    }

    @Test
    void writeLargerThanMaximumPayloadFailsBeforeBuffering() {
        assertFailsOnceThenSwallows(new EmbeddedChannel(new ServerCodec(1 << 20)),
                "25609513 0000 0001 0000000000000001 0000000000000000 00100001");
    }

    @Test
    void simpleReplyForUnknownCookie() {
        assertFailsOnceThenSwallows(new EmbeddedChannel(new ClientCodec(c -> ReplyLengths.UNKNOWN)),
                "67446698 00000000 0000000000000001");
    }

    @Test
    void badReplyMagic() {
        assertFailsOnceThenSwallows(new EmbeddedChannel(new ClientCodec(c -> 0)), "12345678 00000000 0000000000000001");
    }

    @Test
    void chunkLongerThanTheCap() {
        assertFailsOnceThenSwallows(new EmbeddedChannel(new ClientCodec(c -> 0, 4096)),
                "668e33ef 0001 0001 0000000000000005 00001009");
    }

    @Test
    void unknownNonErrorChunkType() {
        assertFailsOnceThenSwallows(new EmbeddedChannel(new ClientCodec(c -> 0)),
                "668e33ef 0001 0063 0000000000000005 00000000");
    }

    @Test
    void impossibleChunks() {
        assertFailsOnceThenSwallows(new EmbeddedChannel(new ClientCodec(c -> 0)),
                "668e33ef 0001 0002 0000000000000005 00000004 00000000");
        assertFailsOnceThenSwallows(new EmbeddedChannel(new ClientCodec(c -> 0)),
                "668e33ef 0000 0000 0000000000000005 00000000");
        assertFailsOnceThenSwallows(new EmbeddedChannel(new ClientCodec(c -> 0)),
                "668e33ef 0001 8001 0000000000000005 00000006 00000005 0010");
    }

    @Test
    void oldstyleOrForeignServer() {
        assertFailsOnceThenSwallows(new EmbeddedChannel(new ClientHandshakeCodec()),
                "4e42444d41474943 0000420281861253 0000");
        assertFailsOnceThenSwallows(new EmbeddedChannel(new ClientHandshakeCodec()),
                "485454502f312e31 2032303020 4f4b0d0a0d0a");
    }

    @Test
    void optionReplyLongerThanTheCap() {
        EmbeddedChannel client = new EmbeddedChannel(new ClientHandshakeCodec(1024));
        client.writeInbound(buf("4e42444d41474943 49484156454F5054 0003"));
        client.readInbound();
        assertFailsOnceThenSwallows(client, "0003e889045565a9 00000003 00000002 00000401");
    }
}
