package io.blockmover.nbd.server;

import io.blockmover.nbd.protocol.BlockStatusDescriptor;
import io.blockmover.nbd.protocol.ExportNameReply;
import io.blockmover.nbd.protocol.InfoItem;
import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;
import io.blockmover.nbd.protocol.OptionReply;
import io.blockmover.nbd.protocol.OptionRequest;
import io.blockmover.nbd.testing.MemoryBlockDevice;
import io.blockmover.nbd.testing.StaticCatalog;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static io.blockmover.nbd.protocol.NbdConstants.*;
import static org.junit.jupiter.api.Assertions.*;

/** The server's protocol behaviour, scripted exchange by exchange through our own client codecs. */
class ServerBehaviourTest {
    static final String CHANGED = "blockmover:changed:test";
    static final int PAGE = MemoryBlockDevice.PAGE;

    /** A device-defined context: the first page "changed" (flag 1), the rest not. */
    record FirstPageChanged(long size) implements StatusContext {
        public String name() {
            return CHANGED;
        }

        public List<Extent> status(long offset, long length) {
            long end = Math.min(size, offset + length);
            List<Extent> out = new ArrayList<>();
            if (offset < PAGE) {
                out.add(new Extent(Math.min(PAGE, end) - offset, 1));
            }
            if (end > PAGE) {
                long from = Math.max(offset, PAGE);
                out.add(new Extent(end - from, 0));
            }
            return out;
        }
    }

    private final MemoryBlockDevice device = new MemoryBlockDevice(16L * PAGE, false, BlockSizes.DEFAULT,
            List.of(new FirstPageChanged(16L * PAGE)));
    private NbdServer server;
    private final List<WireClient> clients = new ArrayList<>();

    private InetSocketAddress start(NbdServerConfig config, ExportCatalog.Export... exports) throws IOException {
        server = NbdServer.start(config, StaticCatalog.of(exports));
        return server.localAddress();
    }

    private InetSocketAddress start() throws IOException {
        return start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)),
                new ExportCatalog.Export("disk", "test disk", device),
                new ExportCatalog.Export("ro", "", device.readOnlyView()));
    }

    private WireClient client(InetSocketAddress address) throws IOException {
        WireClient c = WireClient.negotiate(address);
        clients.add(c);
        return c;
    }

    /** STRUCTURED_REPLY, SET_META_CONTEXT for both contexts, GO: ready for transmission. */
    private WireClient structured(InetSocketAddress address, String export) throws IOException {
        WireClient c = client(address);
        assertInstanceOf(OptionReply.Ack.class, c.option(new OptionRequest.StructuredReply()).getLast());
        c.option(new OptionRequest.MetaContext(true, export, List.of(BASE_ALLOCATION, CHANGED)));
        assertInstanceOf(OptionReply.Ack.class, c.option(new OptionRequest.Info(true, export, List.of())).getLast());
        c.startTransmission();
        return c;
    }

    private WireClient simple(InetSocketAddress address, String export) throws IOException {
        WireClient c = client(address);
        assertInstanceOf(OptionReply.Ack.class, c.option(new OptionRequest.Info(true, export, List.of())).getLast());
        c.startTransmission();
        return c;
    }

    @AfterEach
    void tearDown() throws IOException {
        for (WireClient c : clients) {
            c.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    @Test
    void infoReportsExportSizesNameDescriptionAndFlags() throws IOException {
        WireClient c = client(start());
        List<OptionReply> replies = c.option(new OptionRequest.Info(false, "disk", List.of(INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE)));
        List<InfoItem> items = replies.stream().filter(r -> r instanceof OptionReply.Info)
                .map(r -> ((OptionReply.Info) r).item()).toList();
        InfoItem.Export export = (InfoItem.Export) items.getFirst();
        assertEquals(device.size(), export.size());
        int flags = export.transmissionFlags();
        for (int f : new int[] {FLAG_HAS_FLAGS, FLAG_SEND_FLUSH, FLAG_SEND_FUA, FLAG_SEND_TRIM, FLAG_SEND_WRITE_ZEROES,
                FLAG_CAN_MULTI_CONN, FLAG_SEND_CACHE, FLAG_SEND_FAST_ZERO}) {
            assertNotEquals(0, flags & f, "flag " + f);
        }
        assertEquals(0, flags & FLAG_READ_ONLY);
        assertTrue(items.contains(new InfoItem.Name("disk")));
        assertTrue(items.contains(new InfoItem.Description("test disk")));
        assertTrue(items.contains(new InfoItem.BlockSize(1, 4096, 32 << 20)));
        assertInstanceOf(OptionReply.Ack.class, replies.getLast());

        List<OptionReply> ro = c.option(new OptionRequest.Info(false, "ro", List.of()));
        assertNotEquals(0, ((InfoItem.Export) ((OptionReply.Info) ro.getFirst()).item()).transmissionFlags() & FLAG_READ_ONLY);
    }

    @Test
    void listAndOptionErrors() throws IOException {
        WireClient c = client(start());
        List<OptionReply> list = c.option(new OptionRequest.ListExports());
        assertEquals(List.of(new OptionReply.Server(OPT_LIST, "disk", "test disk"), new OptionReply.Server(OPT_LIST, "ro", ""),
                new OptionReply.Ack(OPT_LIST)), list);
        assertEquals(REP_ERR_UNKNOWN, ((OptionReply.Error) c.option(new OptionRequest.Info(true, "nope", List.of())).getLast()).type());
        assertEquals(REP_ERR_UNSUP, ((OptionReply.Error) c.option(new OptionRequest.Unknown(42, 10)).getLast()).type());
        assertEquals(REP_ERR_UNSUP, ((OptionReply.Error) c.option(new OptionRequest.ExtendedHeaders()).getLast()).type());
        assertEquals(REP_ERR_UNSUP, ((OptionReply.Error) c.option(new OptionRequest.StartTls()).getLast()).type(),
                "no TLS configured");
        assertEquals(REP_ERR_INVALID, ((OptionReply.Error) c.option(
                new OptionRequest.MetaContext(true, "disk", List.of(BASE_ALLOCATION))).getLast()).type(),
                "SET_META_CONTEXT before STRUCTURED_REPLY");
        // the connection is still good for a GO
        assertInstanceOf(OptionReply.Ack.class, c.option(new OptionRequest.Info(true, "disk", List.of())).getLast());
    }

    @Test
    void optionFloodIsAnsweredInOrderThroughReadPauses() throws Exception {
        WireClient c = client(start());
        int count = 20_000;
        byte[] list = c.encode(new OptionRequest.ListExports());
        byte[] flood = new byte[list.length * count];
        for (int i = 0; i < count; i++) {
            System.arraycopy(list, 0, flood, i * list.length, list.length);
        }
        // The server pauses reading whenever its replies back up; the replies read here let it
        // resume, and every reply must arrive in order with nothing lost across the pauses.
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                c.sendRaw(flood);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        for (int i = 0; i < count; i++) {
            assertEquals(new OptionReply.Server(OPT_LIST, "disk", "test disk"), c.receive());
            assertEquals(new OptionReply.Server(OPT_LIST, "ro", ""), c.receive());
            assertEquals(new OptionReply.Ack(OPT_LIST), c.receive());
        }
        writer.join();
        assertInstanceOf(OptionReply.Ack.class, c.option(new OptionRequest.Info(true, "disk", List.of())).getLast());
    }

    @Test
    void abortIsAcknowledgedThenTheServerHangsUp() throws IOException {
        WireClient c = client(start());
        assertEquals(List.of(new OptionReply.Ack(OPT_STRUCTURED_REPLY)), c.option(new OptionRequest.StructuredReply()));
        OptionReply again = c.option(new OptionRequest.StructuredReply()).getLast();
        assertEquals(REP_ERR_INVALID, ((OptionReply.Error) again).type(), "structured replies twice");
        assertEquals(List.of(new OptionReply.Ack(OPT_ABORT)), c.option(new OptionRequest.Abort()));
        assertTrue(c.closedByServer());
    }

    @Test
    void listMetaContextsByQuery() throws IOException {
        WireClient c = client(start());
        c.option(new OptionRequest.StructuredReply());
        assertEquals(Set.of(BASE_ALLOCATION, CHANGED), contextNames(c.option(new OptionRequest.MetaContext(false, "disk", List.of()))));
        assertEquals(Set.of(BASE_ALLOCATION), contextNames(c.option(new OptionRequest.MetaContext(false, "disk", List.of("base:")))));
        assertEquals(Set.of(CHANGED), contextNames(c.option(new OptionRequest.MetaContext(false, "disk", List.of("blockmover:")))));
        assertEquals(Set.of(), contextNames(c.option(new OptionRequest.MetaContext(false, "disk", List.of("qemu:dirty-bitmap:x")))));
        List<OptionReply> set = c.option(new OptionRequest.MetaContext(true, "disk", List.of(CHANGED, "nope:x", BASE_ALLOCATION)));
        assertEquals(List.of(new OptionReply.MetaContext(OPT_SET_META_CONTEXT, 1, CHANGED),
                new OptionReply.MetaContext(OPT_SET_META_CONTEXT, 2, BASE_ALLOCATION),
                new OptionReply.Ack(OPT_SET_META_CONTEXT)), set);
    }

    private static Set<String> contextNames(List<OptionReply> replies) {
        Set<String> names = new HashSet<>();
        for (OptionReply r : replies) {
            if (r instanceof OptionReply.MetaContext m) {
                names.add(m.name());
            }
        }
        return names;
    }

    @Test
    void exportNameWithoutZeroesThenSimpleReads() throws IOException {
        byte[] data = pattern(1000, 3);
        device.fill(PAGE - 500, data);
        WireClient c = client(start());
        c.send(new OptionRequest.ExportName("disk"));
        ExportNameReply reply = c.receive();
        assertEquals(device.size(), reply.size());
        assertFalse(reply.zeroPadding());
        c.startTransmission();
        c.expectData(1, 1000);
        c.send(NbdRequest.read(1, PAGE - 500, 1000, 0));
        NbdReply.Simple r = c.receive();
        assertArrayEquals(data, ByteBufUtil.getBytes(r.data()));
        r.release();
    }

    @Test
    void requestPipelinedRightAfterGoIsServed() throws IOException {
        device.fill(0, "pipelined".getBytes());
        WireClient c = client(start());
        // GO and a READ in one TCP write: the READ reaches the server's handshake decoder first
        // and must be handed to the transmission decoder, not lost or misparsed.
        byte[] go = c.encode(new OptionRequest.Info(true, "disk", List.of()));
        c.expectData(42, 9);
        c.sendRaw(java.nio.ByteBuffer.allocate(go.length + 28).put(go).putInt(REQUEST_MAGIC).putShort((short) 0)
                .putShort((short) CMD_READ).putLong(42).putLong(0).putInt(9).array());
        OptionReply r;
        do {
            r = c.receive();
        } while (!(r instanceof OptionReply.Ack));
        // The READ's reply may arrive with GO's ACK: the handshake decoder leaves it to the next.
        c.startTransmission();
        NbdReply.Simple read = c.receive();
        assertEquals("pipelined", read.data().toString(java.nio.charset.StandardCharsets.US_ASCII));
        read.release();
    }

    @Test
    void structuredReadSendsHolesAsHoleChunks() throws IOException {
        byte[] data = pattern(PAGE, 7);
        device.fill(2L * PAGE, data);
        WireClient c = structured(start(), "disk");
        c.send(NbdRequest.read(5, PAGE, 3 * PAGE, 0));
        List<NbdReply> chunks = new ArrayList<>();
        NbdReply r;
        do {
            r = c.receive();
            chunks.add(r);
        } while (!r.done());
        assertEquals(3, chunks.size(), chunks.toString());
        assertEquals(new NbdReply.OffsetHole(5, false, PAGE, PAGE), chunks.get(0));
        NbdReply.OffsetData d = (NbdReply.OffsetData) chunks.get(1);
        assertEquals(2L * PAGE, d.offset());
        assertArrayEquals(data, ByteBufUtil.getBytes(d.data()));
        d.release();
        assertEquals(new NbdReply.OffsetHole(5, true, 3L * PAGE, PAGE), chunks.get(2));

        c.send(NbdRequest.read(6, PAGE, 3 * PAGE, CMD_FLAG_DF));
        NbdReply.OffsetData whole = c.receive();
        assertTrue(whole.done());
        assertEquals(3 * PAGE, whole.data().readableBytes());
        whole.release();
    }

    @Test
    void writesZeroesTrimFlushReachTheDevice() throws IOException {
        WireClient c = structured(start(), "disk");
        byte[] data = pattern(3 * PAGE, 9);
        c.send(NbdRequest.write(1, 0, Unpooled.wrappedBuffer(data), CMD_FLAG_FUA));
        assertEquals(NbdReply.Simple.ok(1), c.receive());
        assertArrayEquals(data, Arrays.copyOf(device.contents(), data.length));
        assertEquals(1, device.flushCount(), "FUA flushes");

        c.send(NbdRequest.command(CMD_WRITE_ZEROES, 2, PAGE, PAGE, CMD_FLAG_NO_HOLE));
        assertEquals(NbdReply.Simple.ok(2), c.receive());
        assertEquals(3, device.allocatedPages(), "NO_HOLE keeps the page allocated");
        c.send(NbdRequest.command(CMD_WRITE_ZEROES, 3, 2L * PAGE, PAGE, CMD_FLAG_FAST_ZERO));
        assertEquals(NbdReply.Simple.ok(3), c.receive());
        c.send(NbdRequest.command(CMD_TRIM, 4, 0, PAGE, 0));
        assertEquals(NbdReply.Simple.ok(4), c.receive());
        assertEquals(1, device.allocatedPages());
        assertArrayEquals(new byte[3 * PAGE], Arrays.copyOf(device.contents(), 3 * PAGE));
        c.send(NbdRequest.command(CMD_FLUSH, 5, 0, 0, 0), NbdRequest.command(CMD_CACHE, 6, 0, PAGE, 0));
        assertEquals(NbdReply.Simple.ok(5), c.receive());
        assertEquals(NbdReply.Simple.ok(6), c.receive());
        assertEquals(2, device.flushCount());
    }

    @Test
    void blockStatusForEveryNegotiatedContext() throws IOException {
        device.fill(3L * PAGE, new byte[] {1});
        WireClient c = structured(start(), "disk");
        c.send(NbdRequest.command(CMD_BLOCK_STATUS, 9, 0, 5L * PAGE, 0));
        NbdReply.BlockStatus first = c.receive();
        NbdReply.BlockStatus second = c.receive();
        assertFalse(first.done());
        assertTrue(second.done());
        assertEquals(1, first.contextId());
        assertEquals(List.of(new BlockStatusDescriptor(3L * PAGE, STATE_HOLE | STATE_ZERO),
                new BlockStatusDescriptor(PAGE, 0), new BlockStatusDescriptor(PAGE, STATE_HOLE | STATE_ZERO)), first.descriptors());
        assertEquals(2, second.contextId());
        assertEquals(List.of(new BlockStatusDescriptor(PAGE, 1), new BlockStatusDescriptor(4L * PAGE, 0)), second.descriptors());

        c.send(NbdRequest.command(CMD_BLOCK_STATUS, 10, 0, 5L * PAGE, CMD_FLAG_REQ_ONE));
        assertEquals(List.of(new BlockStatusDescriptor(3L * PAGE, STATE_HOLE | STATE_ZERO)),
                ((NbdReply.BlockStatus) c.receive()).descriptors());
        assertEquals(List.of(new BlockStatusDescriptor(PAGE, 1)), ((NbdReply.BlockStatus) c.receive()).descriptors());
    }

    @Test
    void badRequestsGetTheSpecErrorsAndTheConnectionLives() throws IOException {
        InetSocketAddress address = start();
        WireClient c = structured(address, "disk");
        long size = device.size();
        c.send(NbdRequest.read(1, size - 10, 20, 0));
        assertEquals(EINVAL, ((NbdReply.Error) c.receive()).error());
        c.send(NbdRequest.write(2, size - 1, Unpooled.wrappedBuffer(new byte[2]), 0));
        assertEquals(NbdReply.Simple.error(2, ENOSPC), c.receive());
        c.send(NbdRequest.command(CMD_WRITE_ZEROES, 3, -4096L, 4096, 0));
        assertEquals(NbdReply.Simple.error(3, ENOSPC), c.receive());
        c.send(NbdRequest.read(4, 0, (32 << 20) + 1, 0));
        assertEquals(EINVAL, ((NbdReply.Error) c.receive()).error());
        c.send(NbdRequest.command(99, 5, 0, 0, 0));
        assertEquals(NbdReply.Simple.error(5, EINVAL), c.receive());
        c.send(NbdRequest.command(CMD_TRIM, 6, 0, PAGE, CMD_FLAG_REQ_ONE));
        assertEquals(NbdReply.Simple.error(6, EINVAL), c.receive());
        c.send(NbdRequest.read(7, 0, 0, 0));
        assertEquals(EINVAL, ((NbdReply.Error) c.receive()).error());
        c.send(NbdRequest.read(8, 0, 4, 0));
        NbdReply.OffsetData ok = c.receive();
        assertEquals(4, ok.data().readableBytes());
        ok.release();

        WireClient ro = structured(address, "ro");
        ro.send(NbdRequest.write(1, 0, Unpooled.wrappedBuffer(new byte[512]), 0));
        assertEquals(NbdReply.Simple.error(1, EPERM), ro.receive());
        ro.send(NbdRequest.command(CMD_TRIM, 2, 0, 512, 0));
        assertEquals(NbdReply.Simple.error(2, EPERM), ro.receive());

        WireClient plain = simple(address, "disk");
        plain.send(NbdRequest.read(1, 0, 512, CMD_FLAG_DF));
        assertEquals(NbdReply.Simple.error(1, EINVAL), plain.receive(), "DF needs structured replies");
        plain.send(NbdRequest.command(CMD_BLOCK_STATUS, 2, 0, 512, 0));
        assertEquals(NbdReply.Simple.error(2, EINVAL), plain.receive(), "BLOCK_STATUS needs a context");
    }

    @Test
    void repliesLeaveOutOfOrderWhenAnEarlierRequestIsSlow() throws IOException {
        GatedDevice gated = new GatedDevice(device, 0);
        InetSocketAddress address = start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)),
                new ExportCatalog.Export("gated", "", gated));
        WireClient c = simple(address, "gated");
        c.expectData(1, 512);
        c.expectData(2, 512);
        c.send(NbdRequest.read(1, 0, 512, 0), NbdRequest.read(2, PAGE, 512, 0));
        NbdReply.Simple first = c.receive();
        assertEquals(2, first.cookie(), "the fast read overtakes the gated one");
        first.release();
        gated.open();
        NbdReply.Simple second = c.receive();
        assertEquals(1, second.cookie());
        second.release();
    }

    @Test
    void requestsBeyondTheInFlightBudgetWait() throws IOException {
        GatedDevice gated = new GatedDevice(device, 0);
        InetSocketAddress address = start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)).withInFlightLimits(2, 1 << 20),
                new ExportCatalog.Export("gated", "", gated));
        WireClient c = simple(address, "gated");
        List<Object> reads = new ArrayList<>();
        for (int i = 1; i <= 10; i++) {
            c.expectData(i, 512);
            reads.add(NbdRequest.read(i, 0, 512, 0));
        }
        c.send(reads.toArray());
        // Wait until the budget is used up by gated reads; no more may start until they finish.
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (gated.waitingAtGate() < 2) {
            assertTrue(System.nanoTime() < deadline, "two reads should reach the gate");
            Thread.onSpinWait();
        }
        gated.open();
        Set<Long> cookies = new HashSet<>();
        for (int i = 0; i < 10; i++) {
            NbdReply.Simple r = c.receive();
            cookies.add(r.cookie());
            r.release();
        }
        assertEquals(10, cookies.size());
        assertEquals(2, gated.maxConcurrentReads());
    }

    @Test
    void inlineDeviceIsReadOnlyAsFastAsTheClientTakesReplies() throws Exception {
        byte[] data = pattern((int) device.size(), 3);
        device.fill(0, data);
        InlineCountingDevice inline = new InlineCountingDevice(device);
        InetSocketAddress address = start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)),
                new ExportCatalog.Export("inline", "", inline));
        WireClient c = simple(address, "inline");
        int requests = 64;
        List<Object> reads = new ArrayList<>();
        for (int i = 1; i <= requests; i++) {
            c.expectData(i, data.length);
            reads.add(NbdRequest.read(i, 0, data.length, 0));
        }
        // 64 MiB asked for, not read yet: the server may fill the socket buffers (a few MiB),
        // then must wait for the client instead of producing every reply into memory.
        c.send(reads.toArray());
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (inline.reads() == 0) {
            assertTrue(System.nanoTime() < deadline, "the first read should be served");
            Thread.onSpinWait();
        }
        Thread.sleep(500);
        assertTrue(inline.reads() < requests, "served " + inline.reads() + " of " + requests + " before the client read any reply");
        for (int i = 0; i < requests; i++) {
            NbdReply.Simple r = c.receive();
            assertEquals(0, r.error());
            assertArrayEquals(data, ByteBufUtil.getBytes(r.data()), "reply to " + r.cookie());
            r.release();
        }
        assertEquals(requests, inline.reads());
    }

    /** A memory device that says it never blocks, so the server serves it on the event loop. */
    private static final class InlineCountingDevice implements BlockDevice {
        private final MemoryBlockDevice delegate;
        private final java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();

        InlineCountingDevice(MemoryBlockDevice delegate) {
            this.delegate = delegate;
        }

        int reads() {
            return reads.get();
        }

        public boolean servesInline() {
            return true;
        }

        public long size() {
            return delegate.size();
        }

        public boolean isReadOnly() {
            return true;
        }

        public void read(long offset, int length, io.netty.buffer.ByteBuf dst) throws IOException {
            reads.incrementAndGet();
            delegate.read(offset, length, dst);
        }

        public void write(long offset, io.netty.buffer.ByteBuf src) throws IOException {
            throw new IOException("read-only");
        }

        public void writeZeroes(long offset, long length, boolean mayPunchHole) throws IOException {
            throw new IOException("read-only");
        }

        public void trim(long offset, long length) throws IOException {
            throw new IOException("read-only");
        }

        public void flush() {
        }

        public List<Extent> extents(long offset, long length) throws IOException {
            return delegate.extents(offset, length);
        }
    }

    @Test
    void faultInjectorDelaysFailsAndDrops() throws IOException {
        FaultInjector faults = (conn, export, command, offset, length) -> {
            if (command == CMD_READ && offset == PAGE) {
                return new FaultInjector.Fault.Error(EIO, "injected");
            }
            if (command == CMD_READ && offset == 2L * PAGE) {
                return new FaultInjector.Fault.Drop();
            }
            if (command == CMD_READ && offset == 0) {
                return new FaultInjector.Fault.Delay(1_000_000);
            }
            return FaultInjector.Fault.None.INSTANCE;
        };
        InetSocketAddress address = start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)).withFaults(faults),
                new ExportCatalog.Export("disk", "", device));
        WireClient c = structured(address, "disk");
        c.send(NbdRequest.read(1, 0, 8192, 0));
        assertEquals(new NbdReply.OffsetHole(1, true, 0, 8192), c.receive());
        c.send(NbdRequest.read(2, PAGE, 512, 0));
        NbdReply.Error e = c.receive();
        assertEquals(EIO, e.error());
        assertEquals("injected", e.message());
        c.send(NbdRequest.read(3, 2L * PAGE, 512, 0));
        assertTrue(c.closedByServer());
        // other connections are unaffected
        WireClient d = structured(address, "disk");
        d.send(NbdRequest.command(CMD_FLUSH, 1, 0, 0, 0));
        assertEquals(NbdReply.Simple.ok(1), d.receive());
    }

    @Test
    void deviceFailuresBecomeErrorRepliesAndTheConnectionLives() throws IOException {
        BlockDevice broken = new FailingDevice(device);
        InetSocketAddress address = start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)),
                new ExportCatalog.Export("broken", "", broken));
        WireClient c = structured(address, "broken");
        c.send(NbdRequest.read(1, 0, 512, CMD_FLAG_DF));
        NbdReply.Error io = c.receive();
        assertEquals(EIO, io.error());
        assertEquals("disk on fire", io.message());
        c.send(NbdRequest.read(2, PAGE, 512, CMD_FLAG_DF));
        assertEquals(EIO, ((NbdReply.Error) c.receive()).error());
        c.send(NbdRequest.write(3, 0, Unpooled.wrappedBuffer(new byte[512]), 0));
        assertEquals(NbdReply.Simple.error(3, EIO), c.receive());
        c.send(NbdRequest.command(CMD_FLUSH, 4, 0, 0, 0));
        assertEquals(NbdReply.Simple.ok(4), c.receive());
    }

    /** Reads at 0 and writes fail with an IOException, reads at PAGE with a RuntimeException. */
    private static final class FailingDevice implements BlockDevice {
        private final MemoryBlockDevice delegate;

        FailingDevice(MemoryBlockDevice delegate) {
            this.delegate = delegate;
        }

        public long size() {
            return delegate.size();
        }

        public boolean isReadOnly() {
            return false;
        }

        public void read(long offset, int length, io.netty.buffer.ByteBuf dst) throws IOException {
            if (offset == 0) {
                throw new IOException("disk on fire");
            }
            throw new IllegalStateException("device bug");
        }

        public void write(long offset, io.netty.buffer.ByteBuf src) throws IOException {
            throw new IOException("read-only medium");
        }

        public void writeZeroes(long offset, long length, boolean mayPunchHole) {
        }

        public void trim(long offset, long length) {
        }

        public void flush() {
        }

        public List<Extent> extents(long offset, long length) {
            return delegate.extents(offset, length);
        }
    }

    @Test
    void disconnectAnswersEarlierRequestsThenCloses() throws IOException {
        WireClient c = structured(start(), "disk");
        c.send(NbdRequest.write(1, 0, Unpooled.wrappedBuffer(pattern(PAGE, 1)), 0),
                NbdRequest.command(CMD_FLUSH, 2, 0, 0, 0),
                NbdRequest.command(CMD_DISC, 3, 0, 0, 0));
        Set<Long> answered = new HashSet<>();
        answered.add(((NbdReply) c.receive()).cookie());
        answered.add(((NbdReply) c.receive()).cookie());
        assertEquals(Set.of(1L, 2L), answered);
        assertTrue(c.closedByServer());
        assertArrayEquals(pattern(PAGE, 1), Arrays.copyOf(device.contents(), PAGE));
    }
}
