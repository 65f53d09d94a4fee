package io.blockmover.mover.transport.nbd;

import static io.blockmover.mover.transport.nbd.ClientTesting.*;
import static org.junit.jupiter.api.Assertions.*;

import io.blockmover.mover.transport.DiskIoException;
import io.blockmover.mover.transport.RetryPolicy;
import io.blockmover.nbd.protocol.NbdConstants;
import io.blockmover.nbd.server.ExportCatalog;
import io.blockmover.nbd.server.FaultInjector;
import io.blockmover.nbd.server.NbdServer;
import io.blockmover.nbd.server.NbdServerConfig;
import io.blockmover.nbd.testing.MemoryBlockDevice;
import io.netty.buffer.Unpooled;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Our client against our server with injected faults: dropped connections and read errors. */
class OwnServerFaultTest {
    private static final int SIZE = 24 << 20;

    private static byte[] fill(MemoryBlockDevice device) throws Exception {
        byte[] content = new byte[SIZE];
        new Random(7).nextBytes(content);
        // Leave a hole in the middle so structured replies mix data and holes.
        java.util.Arrays.fill(content, 8 << 20, 10 << 20, (byte) 0);
        device.write(0, Unpooled.wrappedBuffer(content, 0, 8 << 20));
        device.write(10 << 20, Unpooled.wrappedBuffer(content, 10 << 20, SIZE - (10 << 20)));
        return content;
    }

    private static NbdServer serve(MemoryBlockDevice device, FaultInjector faults) throws Exception {
        ExportCatalog catalog = new ExportCatalog() {
            @Override
            public Optional<Export> find(String name) {
                return name.equals("disk") ? Optional.of(new Export("disk", "test disk", device)) : Optional.empty();
            }

            @Override
            public List<Export> list() {
                return List.of(new Export("disk", "test disk", device));
            }
        };
        return NbdServer.start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)).withFaults(faults), catalog);
    }

    private static String uri(NbdServer server) {
        return "nbd://127.0.0.1:" + server.localAddress().getPort() + "/disk";
    }

    private static ConnectOptions fastRetries(int connections) {
        return ConnectOptions.DEFAULT.withConnections(connections)
                .withRetry(new RetryPolicy(3, Duration.ofMillis(20), Duration.ofMillis(100)));
    }

    @Test
    void droppedConnectionsMidCopyAreReestablishedAndTheCopyIsExact() throws Exception {
        MemoryBlockDevice device = new MemoryBlockDevice(SIZE);
        byte[] content = fill(device);
        AtomicInteger reads = new AtomicInteger();
        // Every first and second connection dies at its 5th read; later ones are healthy.
        FaultInjector faults = (connection, export, command, offset, length) ->
                command == NbdConstants.CMD_READ && connection <= 2 && reads.incrementAndGet() % 5 == 0
                        ? new FaultInjector.Fault.Drop() : FaultInjector.Fault.None.INSTANCE;
        try (NbdServer server = serve(device, faults);
             NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(uri(server)), fastRetries(2))) {
            assertEquals(2, s.client().connections());
            byte[] ours = readAll(s, 256 << 10, 24);
            assertEquals(sha256(content), sha256(ours));
            assertTrue(reads.get() >= 5, "the fault fired");
        }
    }

    @Test
    void aServerThatKeepsDroppingExhaustsTheRetries() throws Exception {
        MemoryBlockDevice device = new MemoryBlockDevice(SIZE);
        fill(device);
        FaultInjector always = (connection, export, command, offset, length) ->
                command == NbdConstants.CMD_READ ? new FaultInjector.Fault.Drop() : FaultInjector.Fault.None.INSTANCE;
        try (NbdServer server = serve(device, always);
             NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(uri(server)), fastRetries(1))) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> s.read(0, 4096).get(20, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("gave up after 3 retries"), e.getCause().getMessage());
            // The client stays failed, quickly, rather than looping.
            assertThrows(ExecutionException.class, () -> s.read(0, 4096).get(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void readErrorAtAnOffsetIsTyped() throws Exception {
        MemoryBlockDevice device = new MemoryBlockDevice(SIZE);
        byte[] content = fill(device);
        long bad = 5L << 20;
        FaultInjector faults = (connection, export, command, offset, length) ->
                command == NbdConstants.CMD_READ && offset <= bad && bad < offset + length
                        ? new FaultInjector.Fault.Error(NbdConstants.EIO, "bad sector") : FaultInjector.Fault.None.INSTANCE;
        try (NbdServer server = serve(device, faults);
             NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(uri(server)), fastRetries(1))) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> s.read(bad - 4096, 65536).get(10, TimeUnit.SECONDS));
            DiskIoException io = assertInstanceOf(DiskIoException.class, e.getCause());
            assertEquals(5, io.errno());
            assertTrue(io.offset() >= bad - 4096 && io.offset() <= bad, "offset " + io.offset());
            var ok = s.read(0, 65536).get(10, TimeUnit.SECONDS);
            try {
                byte[] got = new byte[65536];
                ok.getBytes(ok.readerIndex(), got);
                assertArrayEquals(java.util.Arrays.copyOf(content, 65536), got);
            } finally {
                ok.release();
            }
        }
    }

    @Test
    void writesSurviveADroppedConnection() throws Exception {
        MemoryBlockDevice device = new MemoryBlockDevice(SIZE);
        AtomicInteger writes = new AtomicInteger();
        FaultInjector faults = (connection, export, command, offset, length) ->
                command == NbdConstants.CMD_WRITE && connection == 1 && writes.incrementAndGet() == 3
                        ? new FaultInjector.Fault.Drop() : FaultInjector.Fault.None.INSTANCE;
        byte[] data = new byte[4 << 20];
        new Random(3).nextBytes(data);
        try (NbdServer server = serve(device, faults);
             NbdDiskTarget t = NbdDiskTarget.open(NbdUri.parse(uri(server)), fastRetries(1))) {
            var all = new java.util.ArrayList<java.util.concurrent.CompletableFuture<Void>>();
            for (int i = 0; i < 16; i++) {
                all.add(t.write((long) i << 18, Unpooled.wrappedBuffer(data, i << 18, 1 << 18), false));
            }
            java.util.concurrent.CompletableFuture.allOf(all.toArray(java.util.concurrent.CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
            t.flush().get(10, TimeUnit.SECONDS);
        }
        try (NbdServer server = serve(device, FaultInjector.NONE);
             NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(uri(server)), ConnectOptions.DEFAULT)) {
            var b = s.read(0, 4 << 20).get(10, TimeUnit.SECONDS);
            try {
                assertEquals(sha256(data), sha256(b));
            } finally {
                b.release();
            }
        }
    }
}
