package io.blockmover.mover.transport.nbd;

import static io.blockmover.mover.transport.nbd.ClientTesting.*;
import static org.junit.jupiter.api.Assertions.*;

import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.mover.transport.DiskIoException;
import io.blockmover.mover.transport.RetryPolicy;
import io.blockmover.mover.transport.Timeouts;
import io.blockmover.mover.transport.ZeroOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Our client against nbdkit plugins and filters over plain TCP. */
class NbdkitInteropTest {

    @TempDir
    Path tmp;

    @Test
    void patternReadsExactlyWithManyRequestsInFlight() throws Exception {
        try (Nbdkit k = nbdkit("pattern", "48M");
             NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(k.uri("nbd")), ConnectOptions.DEFAULT.withConnections(3))) {
            assertEquals(48L << 20, s.capacity());
            assertEquals(3, s.client().connections(), "pattern is CAN_MULTI_CONN");
            byte[] ours = readAll(s, 1 << 20, 32);
            assertEquals(sha256(pattern(48L << 20)), sha256(ours));
            // Odd sizes and offsets too (pattern has a 1-byte minimum block).
            ByteBuf b = s.read(12345, 777).get(10, TimeUnit.SECONDS);
            try {
                byte[] want = java.util.Arrays.copyOfRange(pattern(16384), 12345, 12345 + 777);
                byte[] got = new byte[777];
                b.getBytes(b.readerIndex(), got);
                assertArrayEquals(want, got);
            } finally {
                b.release();
            }
        }
    }

    @Test
    void sparseRandomMatchesNbdcopyAndNbdinfoMap() throws Exception {
        try (Nbdkit k = nbdkit("sparse-random", "64M", "seed=4711", "percent=30");
             NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(k.uri("nbd")), ConnectOptions.DEFAULT)) {
            byte[] ours = readAll(s, 256 << 10, 16);
            byte[] theirs = readWithNbdcopy(k.uri("nbd"), tmp.resolve("copy.raw"));
            assertEquals(sha256(theirs), sha256(ours));

            List<DiskExtent> extents = s.extents(0, s.capacity()).get(30, TimeUnit.SECONDS);
            assertEquals(nbdinfoMap(k.uri("nbd")), extents);
            assertTrue(extents.size() > 3, "sparse-random has both data and holes: " + extents.size());
            // Every byte outside data extents reads as zero.
            for (DiskExtent e : extents) {
                if (e.kind() != DiskExtent.Kind.DATA) {
                    for (long i = e.offset(); i < e.end(); i++) {
                        if (ours[(int) i] != 0) {
                            fail("non-zero byte at " + i + " inside " + e);
                        }
                    }
                }
            }
            // A sub-range is clipped exactly.
            List<DiskExtent> part = s.extents(1000, 5_000_000).get(30, TimeUnit.SECONDS);
            assertEquals(1000, part.getFirst().offset());
            assertEquals(5_001_000, part.getLast().end());
        }
    }

    @Test
    void memoryWritesReadBack() throws Exception {
        try (Nbdkit k = nbdkit("memory", "16M");
             NbdDiskTarget t = NbdDiskTarget.open(NbdUri.parse(k.uri("nbd")), ConnectOptions.DEFAULT)) {
            assertTrue(t.capabilities().writeZeroes() && t.capabilities().trim() && t.capabilities().flush());
            byte[] expected = new byte[16 << 20];
            Random r = new Random(42);
            byte[] block = new byte[1 << 20];
            for (int i = 0; i < 12; i++) {
                r.nextBytes(block);
                System.arraycopy(block, 0, expected, i << 20, block.length);
                t.write((long) i << 20, Unpooled.wrappedBuffer(block.clone()), i == 11).get(10, TimeUnit.SECONDS);
            }
            t.writeZeroes(1 << 20, 512 << 10, new ZeroOptions(true, false, false)).get(10, TimeUnit.SECONDS);
            java.util.Arrays.fill(expected, 1 << 20, (1 << 20) + (512 << 10), (byte) 0);
            t.writeZeroes(3 << 20, 2 << 20, ZeroOptions.DEFAULT).get(10, TimeUnit.SECONDS);
            java.util.Arrays.fill(expected, 3 << 20, 5 << 20, (byte) 0);
            assertTrue(t.capabilities().fastZero(), "nbdkit memory offers FAST_ZERO");
            t.writeZeroes(6 << 20, 1 << 20, new ZeroOptions(false, true, true)).get(10, TimeUnit.SECONDS);
            java.util.Arrays.fill(expected, 6 << 20, 7 << 20, (byte) 0);
            t.trim(8 << 20, 1 << 20).get(10, TimeUnit.SECONDS);
            java.util.Arrays.fill(expected, 8 << 20, 9 << 20, (byte) 0); // nbdkit memory reads trimmed bytes as zeros
            t.flush().get(10, TimeUnit.SECONDS);

            try (NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(k.uri("nbd")), ConnectOptions.DEFAULT)) {
                assertEquals(sha256(expected), sha256(readAll(s, 1 << 20, 8)));
            }
            assertEquals(sha256(expected), sha256(readWithNbdcopy(k.uri("nbd"), tmp.resolve("back.raw"))));
        }
    }

    @Test
    void readErrorIsReportedWithItsOffsetAndTheConnectionSurvives() throws Exception {
        Path trigger = tmp.resolve("fail-now");
        try (Nbdkit k = nbdkit("--filter=error", "pattern", "8M", "error-pread=EIO", "error-pread-rate=100%",
                "error-pread-file=" + trigger);
             NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(k.uri("nbd")), ConnectOptions.DEFAULT)) {
            java.nio.file.Files.createFile(trigger);
            ExecutionException e = assertThrows(ExecutionException.class, () -> s.read(3 << 20, 65536).get(10, TimeUnit.SECONDS));
            DiskIoException io = assertInstanceOf(DiskIoException.class, e.getCause());
            assertEquals(3 << 20, io.offset());
            assertEquals(5, io.errno());
            assertTrue(io.getMessage().contains("offset 3145728") && io.getMessage().contains("EIO"), io.getMessage());
            java.nio.file.Files.delete(trigger);
            ByteBuf ok = s.read(3 << 20, 65536).get(10, TimeUnit.SECONDS);
            ok.release();
        }
    }

    @Test
    void overdueRepliesTimeOutAfterBoundedRetries() throws Exception {
        try (Nbdkit k = nbdkit("--filter=delay", "pattern", "8M", "rdelay=5")) {
            ConnectOptions o = ConnectOptions.DEFAULT
                    .withTimeouts(new Timeouts(Duration.ofSeconds(5), Duration.ofMillis(400)))
                    .withRetry(new RetryPolicy(1, Duration.ofMillis(50), Duration.ofMillis(50)));
            try (NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(k.uri("nbd")), o)) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> s.read(0, 4096).get(20, TimeUnit.SECONDS));
                String m = e.getCause().getMessage();
                assertTrue(m.contains("no reply to READ of 4096 bytes at offset 0") && m.contains("gave up after 1 retries"), m);
            }
        }
    }

    @Test
    void refusedConnectionHasAClearErrorAndTheExportNameIsSent() throws Exception {
        try (Nbdkit k = nbdkit("--filter=exportname", "pattern", "1M", "exportname=disk", "exportname-strict=true")) {
            int port = io.blockmover.nbd.testing.FreePorts.find();
            java.io.IOException e = assertThrows(java.io.IOException.class,
                    () -> NbdClient.connect(NbdUri.parse("nbd://127.0.0.1:" + port + "/x"), ConnectOptions.DEFAULT));
            assertTrue(e.getMessage().contains("cannot connect to 127.0.0.1:" + port) && e.getMessage().contains("refused"), e.getMessage());
            try (NbdClient c = NbdClient.connect(NbdUri.parse(k.uri("nbd") + "disk"), ConnectOptions.DEFAULT)) {
                assertEquals(1 << 20, c.info().size());
            }
            NbdHandshakeException unknown = assertThrows(NbdHandshakeException.class,
                    () -> NbdClient.connect(NbdUri.parse(k.uri("nbd") + "other"), ConnectOptions.DEFAULT));
            assertTrue(unknown.getMessage().contains("export 'other'"), unknown.getMessage());
        }
    }
}
