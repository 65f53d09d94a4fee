package io.blockmover.nbd.protocol;

import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.blockmover.nbd.protocol.NbdConstants.*;
import static io.blockmover.nbd.protocol.Wire.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Every handshake message, encoded by one side and decoded by the other, compared byte for byte
 * with layouts written by hand from proto.md.
 */
class HandshakeCodecTest {
    private static final String GREETING = "4e42444d41474943 49484156454F5054 0003";
    private static final String REPLY_MAGIC = "0003e889045565a9";

    /** Client options: encoded bytes must equal the spec layout; the server decodes the same record. */
    private static void assertOption(OptionRequest option, String wire) {
        EmbeddedChannel client = new EmbeddedChannel(new ClientHandshakeCodec());
        client.writeOutbound(option);
        byte[] encoded = drainOutbound(client);
        assertEquals(hex(bytes(wire)), hex(encoded));

        EmbeddedChannel server = new EmbeddedChannel(new ServerHandshakeCodec());
        server.writeInbound(buf("00000003"));
        assertEquals(ClientFlags.FIXED_NEWSTYLE_NO_ZEROES, server.readInbound());
        server.writeInbound(buf(wire));
        assertEquals(option, server.readInbound());
        assertNull(server.readInbound());
    }

    /** Server replies: encoded bytes must equal the layout; a client past the greeting decodes the same record. */
    private static void assertReply(OptionReply reply, String wire) {
        EmbeddedChannel server = new EmbeddedChannel(new ServerHandshakeCodec());
        server.writeOutbound(reply);
        assertEquals(hex(bytes(wire)), hex(drainOutbound(server)));

        EmbeddedChannel client = clientAfterGreeting();
        client.writeInbound(buf(wire));
        Object decoded = client.readInbound();
        if (reply instanceof OptionReply.Unknown u) {
            OptionReply.Unknown d = (OptionReply.Unknown) decoded;
            assertArrayEquals(u.data(), d.data());
        } else {
            assertEquals(reply, decoded);
        }
        assertNull(client.readInbound());
    }

    private static EmbeddedChannel clientAfterGreeting() {
        EmbeddedChannel client = new EmbeddedChannel(new ClientHandshakeCodec());
        client.writeInbound(buf(GREETING));
        assertEquals(ServerGreeting.FIXED_NEWSTYLE_NO_ZEROES, client.readInbound());
        return client;
    }

    @Test
    void greeting() {
        EmbeddedChannel server = new EmbeddedChannel(new ServerHandshakeCodec());
        server.writeOutbound(ServerGreeting.FIXED_NEWSTYLE_NO_ZEROES);
        assertEquals(hex(bytes(GREETING)), hex(drainOutbound(server)));
        clientAfterGreeting();
    }

    @Test
    void clientFlags() {
        EmbeddedChannel client = new EmbeddedChannel(new ClientHandshakeCodec());
        client.writeOutbound(new ClientFlags(FLAG_C_FIXED_NEWSTYLE));
        assertEquals("00000001", hex(drainOutbound(client)));
        EmbeddedChannel server = new EmbeddedChannel(new ServerHandshakeCodec());
        server.writeInbound(buf("80000001"));
        ClientFlags flags = server.readInbound();
        assertTrue(flags.fixedNewstyle());
        assertFalse(flags.noZeroes());
        assertEquals(0x80000000, flags.unknownBits());
    }

    @Test
    void optionsWithoutData() {
        assertOption(new OptionRequest.Abort(), "49484156454F5054 00000002 00000000");
        assertOption(new OptionRequest.ListExports(), "49484156454F5054 00000003 00000000");
        assertOption(new OptionRequest.StartTls(), "49484156454F5054 00000005 00000000");
        assertOption(new OptionRequest.StructuredReply(), "49484156454F5054 00000008 00000000");
        assertOption(new OptionRequest.ExtendedHeaders(), "49484156454F5054 0000000b 00000000");
    }

    @Test
    void exportNameOption() {
        assertOption(new OptionRequest.ExportName("disk"), "49484156454F5054 00000001 00000004 \"disk\"");
        assertOption(new OptionRequest.ExportName(""), "49484156454F5054 00000001 00000000");
    }

    @Test
    void infoAndGo() {
        assertOption(new OptionRequest.Info(false, "a", List.of(INFO_BLOCK_SIZE, INFO_NAME)),
                "49484156454F5054 00000006 0000000b 00000001 \"a\" 0002 0003 0001");
        assertOption(new OptionRequest.Info(true, "", List.of()),
                "49484156454F5054 00000007 00000006 00000000 0000");
    }

    @Test
    void metaContextOptions() {
        assertOption(new OptionRequest.MetaContext(false, "a", List.of("base:")),
                "49484156454F5054 00000009 00000012 00000001 \"a\" 00000001 00000005 \"base:\"");
        assertOption(new OptionRequest.MetaContext(true, "a", List.of("base:allocation")),
                "49484156454F5054 0000000a 0000001c 00000001 \"a\" 00000001 0000000f \"base:allocation\"");
        assertOption(new OptionRequest.MetaContext(false, "", List.of()),
                "49484156454F5054 00000009 00000008 00000000 00000000");
    }

    @Test
    void unknownOptionDataIsSkipped() {
        assertOption(new OptionRequest.Unknown(99, 3), "49484156454F5054 00000063 00000003 000000");
    }

    @Test
    void ackAndErrorReplies() {
        assertReply(new OptionReply.Ack(OPT_STRUCTURED_REPLY), REPLY_MAGIC + " 00000008 00000001 00000000");
        assertReply(new OptionReply.Error(OPT_GO, REP_ERR_UNKNOWN, "no such export"),
                REPLY_MAGIC + " 00000007 80000006 0000000e \"no such export\"");
        assertReply(new OptionReply.Error(OPT_INFO, REP_ERR_TLS_REQD, ""), REPLY_MAGIC + " 00000006 80000005 00000000");
    }

    @Test
    void serverReply() {
        assertReply(new OptionReply.Server(OPT_LIST, "disk", ""),
                REPLY_MAGIC + " 00000003 00000002 00000008 00000004 \"disk\"");
        assertReply(new OptionReply.Server(OPT_LIST, "disk", "x"),
                REPLY_MAGIC + " 00000003 00000002 00000009 00000004 \"disk\" \"x\"");
    }

    @Test
    void infoReplies() {
        assertReply(new OptionReply.Info(OPT_GO, new InfoItem.Export(1L << 40, 0x0d4d)),
                REPLY_MAGIC + " 00000007 00000003 0000000c 0000 0000010000000000 0d4d");
        assertReply(new OptionReply.Info(OPT_GO, new InfoItem.Name("disk")),
                REPLY_MAGIC + " 00000007 00000003 00000006 0001 \"disk\"");
        assertReply(new OptionReply.Info(OPT_INFO, new InfoItem.Description("d")),
                REPLY_MAGIC + " 00000006 00000003 00000003 0002 \"d\"");
        assertReply(new OptionReply.Info(OPT_GO, new InfoItem.BlockSize(1, 4096, 32 << 20)),
                REPLY_MAGIC + " 00000007 00000003 0000000e 0003 00000001 00001000 02000000");
    }

    @Test
    void unknownInfoTypeIsKeptAsBytes() {
        EmbeddedChannel client = clientAfterGreeting();
        client.writeInbound(buf(REPLY_MAGIC + " 00000007 00000003 00000004 0009 abcd"));
        OptionReply.Info info = client.readInbound();
        InfoItem.Unknown item = (InfoItem.Unknown) info.item();
        assertEquals(9, item.infoType());
        assertArrayEquals(bytes("abcd"), item.data());
    }

    @Test
    void metaContextReply() {
        assertReply(new OptionReply.MetaContext(OPT_SET_META_CONTEXT, 1, "base:allocation"),
                REPLY_MAGIC + " 0000000a 00000004 00000013 00000001 \"base:allocation\"");
    }

    @Test
    void unknownReplyType() {
        assertReply(new OptionReply.Unknown(OPT_GO, 77, bytes("0102")), REPLY_MAGIC + " 00000007 0000004d 00000002 0102");
    }

    @Test
    void exportNameReplyWithoutZeroes() {
        EmbeddedChannel server = new EmbeddedChannel(new ServerHandshakeCodec());
        server.writeOutbound(new ExportNameReply(4096, 0x0103, false));
        assertEquals("0000000000001000 0103".replace(" ", ""), hex(drainOutbound(server)));

        EmbeddedChannel client = clientAfterGreeting();
        client.writeOutbound(ClientFlags.FIXED_NEWSTYLE_NO_ZEROES, new OptionRequest.ExportName("x"));
        assertEquals(hex(bytes("00000003 49484156454F5054 00000001 00000001 \"x\"")), hex(drainOutbound(client)));
        // Request bytes that follow must stay unread, for the transmission decoder that comes next.
        client.writeInbound(buf("0000000000001000 0103 67446698"));
        assertEquals(new ExportNameReply(4096, 0x0103, false), client.readInbound());
        assertNull(client.readInbound());
    }

    @Test
    void exportNameReplyWithZeroes() {
        String padded = "0000000000001000 0103" + "00".repeat(EXPORT_NAME_PADDING);
        EmbeddedChannel server = new EmbeddedChannel(new ServerHandshakeCodec());
        server.writeOutbound(new ExportNameReply(4096, 0x0103, true));
        assertEquals(hex(bytes(padded)), hex(drainOutbound(server)));

        EmbeddedChannel client = clientAfterGreeting();
        client.writeOutbound(new ClientFlags(FLAG_C_FIXED_NEWSTYLE), new OptionRequest.ExportName("x"));
        drainOutbound(client);
        client.writeInbound(buf(padded));
        assertEquals(new ExportNameReply(4096, 0x0103, true), client.readInbound());
    }

    @Test
    void decodesMessagesSplitAtEveryByte() {
        byte[] wire = bytes("00000003 49484156454F5054 00000007 0000000b 00000001 \"a\" 0002 0003 0001"
                + " 49484156454F5054 00000002 00000000");
        EmbeddedChannel server = new EmbeddedChannel(new ServerHandshakeCodec());
        for (byte b : wire) {
            server.writeInbound(io.netty.buffer.Unpooled.wrappedBuffer(new byte[] {b}));
        }
        assertEquals(ClientFlags.FIXED_NEWSTYLE_NO_ZEROES, server.readInbound());
        assertEquals(new OptionRequest.Info(true, "a", List.of(3, 1)), server.readInbound());
        assertEquals(new OptionRequest.Abort(), server.readInbound());
    }
}
