package io.blockmover.nbd.server;

import io.blockmover.nbd.testing.MemoryBlockDevice;
import io.blockmover.nbd.testing.Peers;
import io.blockmover.nbd.testing.StaticCatalog;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.*;

/** Real NBD clients (libnbd's nbdinfo and nbdcopy, qemu-img, qemu-io) against our server. */
class PeerInteropTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final int PAGE = MemoryBlockDevice.PAGE;
    private static final long SIZE = 32L << 20;

    private static MemoryBlockDevice device;
    private static final MemoryBlockDevice scratch = new MemoryBlockDevice(SIZE);
    private static NbdServer server;
    private static String base;

    @BeforeAll
    static void start() throws Exception {
        device = new MemoryBlockDevice(SIZE, false, BlockSizes.DEFAULT,
                List.of(new ServerBehaviourTest.FirstPageChanged(SIZE)));
        Random random = new Random(42);
        byte[] first = new byte[PAGE * 16];
        random.nextBytes(first);
        device.fill(0, first);
        byte[] middle = new byte[PAGE * 8];
        random.nextBytes(middle);
        device.fill(5L << 20, middle);
        byte[] partial = new byte[1000];
        random.nextBytes(partial);
        device.fill((20L << 20) + 100, partial);
        server = NbdServer.start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)), StaticCatalog.of(
                new ExportCatalog.Export("disk", "interop disk", device),
                new ExportCatalog.Export("ro", "read-only view", device.readOnlyView()),
                new ExportCatalog.Export("scratch", "nbdcopy writes here", scratch)));
        base = "nbd://127.0.0.1:" + server.localAddress().getPort() + "/";
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private static String json(String text, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\": ([^,\\n]+)").matcher(text);
        assertTrue(m.find(), key + " missing in " + text);
        return m.group(1).trim();
    }

    @Test
    void nbdinfoShowsSizeFlagsAndContexts() {
        String out = Peers.run(TIMEOUT, "nbdinfo", "--json", base + "disk").requireSuccess().stdout();
        assertEquals(Long.toString(SIZE), json(out, "export-size"));
        assertEquals("\"interop disk\"", json(out, "description"));
        assertEquals("false", json(out, "is_read_only"));
        assertEquals("true", json(out, "can_multi_conn"));
        assertEquals("true", json(out, "can_trim"));
        assertEquals("true", json(out, "can_zero"));
        assertEquals("true", json(out, "can_fast_zero"));
        assertEquals("true", json(out, "can_df"));
        assertEquals("true", json(out, "structured"));
        assertEquals("4096", json(out, "block_size_preferred"));
        assertTrue(out.contains("\"base:allocation\""), out);
        assertTrue(out.contains("\"" + ServerBehaviourTest.CHANGED + "\""), out);

        String ro = Peers.run(TIMEOUT, "nbdinfo", "--json", base + "ro").requireSuccess().stdout();
        assertEquals("true", json(ro, "is_read_only"));
    }

    @Test
    void nbdinfoListsEveryExport() {
        String out = Peers.run(TIMEOUT, "nbdinfo", "--list", "--json", base).requireSuccess().stdout();
        assertTrue(out.contains("\"export-name\": \"disk\""), out);
        assertTrue(out.contains("\"export-name\": \"ro\""), out);
        assertTrue(out.contains("\"description\": \"read-only view\""), out);
    }

    /** nbdinfo --map prints "offset length flags description" lines. */
    private static List<Extent> map(String context) {
        String out = Peers.run(TIMEOUT, "nbdinfo", "--map=" + context, base + "disk").requireSuccess().stdout();
        List<Extent> extents = new ArrayList<>();
        long expectedOffset = 0;
        for (String line : out.strip().split("\n")) {
            String[] f = line.strip().split("\\s+");
            assertEquals(expectedOffset, Long.parseLong(f[0]), out);
            extents.add(new Extent(Long.parseLong(f[1]), Integer.parseInt(f[2])));
            expectedOffset += Long.parseLong(f[1]);
        }
        return extents;
    }

    @Test
    void nbdinfoMapEqualsTheDeviceExtents() {
        assertEquals(device.extents(0, SIZE), map("base:allocation"));
        assertEquals(new ServerBehaviourTest.FirstPageChanged(SIZE).status(0, SIZE), map(ServerBehaviourTest.CHANGED));
    }

    @Test
    void nbdcopyToAFileMatchesTheDevice(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("copy.raw");
        Peers.run(TIMEOUT, "nbdcopy", base + "ro", out.toString()).requireSuccess();
        assertEquals(HexFormat.of().formatHex(device.sha256()), sha256(out));
    }

    /** Many parallel WRITEs over several connections (nbdcopy's multi-conn) land byte for byte. */
    @Test
    void nbdcopyFromAFileWritesTheExport(@TempDir Path dir) throws Exception {
        Path in = dir.resolve("in.raw");
        byte[] content = new byte[(int) SIZE];
        new Random(5).nextBytes(content);
        Arrays.fill(content, 3 << 20, 7 << 20, (byte) 0); // a zero run nbdcopy sends as WRITE_ZEROES
        Files.write(in, content);
        Peers.run(TIMEOUT, "nbdcopy", "--connections=4", "--requests=16", in.toString(), base + "scratch").requireSuccess();
        assertEquals(sha256(in), HexFormat.of().formatHex(scratch.sha256()));
    }

    @Test
    void qemuImgConvertMatchesTheDevice(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("convert.raw");
        Peers.run(TIMEOUT, "qemu-img", "convert", "-f", "raw", "-O", "raw", base + "ro", out.toString()).requireSuccess();
        assertEquals(HexFormat.of().formatHex(device.sha256()), sha256(out));
    }

    @Test
    void qemuIoWritesReadBackAndReachTheDevice() {
        long at = 10L << 20;
        String out = Peers.run(TIMEOUT, "qemu-io", "-f", "raw",
                "-c", "write -P 0x5a " + at + " 196608",
                "-c", "write -z " + (at + 65536) + " 65536",
                "-c", "discard " + (at + 131072) + " 65536",
                "-c", "flush",
                "-c", "read -P 0x5a " + at + " 65536",
                "-c", "read -P 0 " + (at + 65536) + " 131072",
                base + "disk").requireSuccess().stdout();
        assertFalse(out.contains("Pattern verification failed"), out);
        assertTrue(out.contains("read 131072/131072"), out);
        byte[] contents = device.contents();
        byte[] expected = new byte[65536];
        Arrays.fill(expected, (byte) 0x5a);
        assertArrayEquals(expected, Arrays.copyOfRange(contents, (int) at, (int) at + 65536));
        assertArrayEquals(new byte[131072], Arrays.copyOfRange(contents, (int) at + 65536, (int) at + 196608));
        assertTrue(device.flushCount() > 0);
    }

    @Test
    void qemuIoCannotWriteTheReadOnlyExport() {
        Peers.Result r = Peers.run(TIMEOUT, "qemu-io", "-f", "raw", "-c", "write -P 1 0 4096", base + "ro");
        assertTrue(r.exitCode() != 0 || (r.stdout() + r.stderr()).contains("ermission") || (r.stdout() + r.stderr()).contains("read-only"),
                r.describe());
        assertFalse((r.stdout()).contains("wrote 4096/4096"), r.describe());
    }
}
