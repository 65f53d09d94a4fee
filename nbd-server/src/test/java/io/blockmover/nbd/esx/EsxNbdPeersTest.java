package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.ExportCatalog;
import io.blockmover.nbd.server.Extent;
import io.blockmover.nbd.testing.Peers;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The emulated host's exports as real NBD peers (libnbd's nbdinfo and nbdcopy, qemu-io) see them. */
class EsxNbdPeersTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final long DISK = 64L << 20;
    private static final int G = Grains.SIZE;

    private static EsxSimulator sim;

    @BeforeAll
    static void start() throws IOException {
        sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(42, 2, 2, DISK, Profile.MIXED, true)));
        sim.host().requireVm("vm01").createSnapshot("base");
    }

    @AfterAll
    static void stop() {
        if (sim != null) {
            sim.close();
        }
    }

    static String uri(EsxSimulator s, String export) {
        return "nbd://127.0.0.1:" + s.nbdAddress().getPort() + "/" + export;
    }

    /** One line of {@code nbdinfo --map}: offset, length, type. */
    record MapLine(long offset, long length, int type) {}

    static List<Extent> map(String context, String uri) {
        String option = context == null ? "--map" : "--map=" + context;
        Peers.Result r = Peers.run(TIMEOUT, "nbdinfo", option, uri).requireSuccess();
        List<MapLine> lines = new ArrayList<>();
        for (String line : r.stdout().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 3) {
                lines.add(new MapLine(Long.parseLong(f[0]), Long.parseLong(f[1]), Integer.parseInt(f[2])));
            }
        }
        // nbdinfo prints extents as the server sent them, possibly split at request boundaries
        List<Extent> merged = new ArrayList<>();
        long expectedOffset = 0;
        for (MapLine l : lines) {
            assertEquals(expectedOffset, l.offset(), "contiguous map\n" + r.stdout());
            expectedOffset += l.length();
            if (!merged.isEmpty() && merged.getLast().flags() == l.type()) {
                merged.set(merged.size() - 1, new Extent(merged.getLast().length() + l.length(), l.type()));
            } else {
                merged.add(new Extent(l.length(), l.type()));
            }
        }
        return merged;
    }


    static String nbdcopySha(EsxSimulator s, String export, Path dir) throws Exception {
        Path out = dir.resolve(export.replace('/', '_').replace('@', '_') + ".raw");
        Peers.run(TIMEOUT, "nbdcopy", uri(s, export), out.toString()).requireSuccess();
        return sha256(out);
    }

    @Test
    void listNamesTheCatalogsExports() {
        Peers.Result r = Peers.run(TIMEOUT, "nbdinfo", "--list", "nbd://127.0.0.1:" + sim.nbdAddress().getPort())
                .requireSuccess();
        List<String> listed = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^export=\"([^\"]*)\":").matcher(r.stdout());
        while (m.find()) {
            listed.add(m.group(1));
        }
        List<String> expected = sim.catalog().list().stream().map(ExportCatalog.Export::name).toList();
        assertEquals(expected, listed);
        assertTrue(listed.contains("vm01/disk-2001@base"), listed.toString());
    }

    @Test
    void mapIsTheGeneratorsAllocationExactly() {
        DiskContent content = EsxHost.contentOf(42, 1, 2001, Profile.MIXED, DISK);
        List<Extent> expected = content.allocation(0, DISK);
        assertEquals(expected, map(null, uri(sim, "vm01/disk-2001")));
        assertEquals(expected, map(null, uri(sim, "vm01/disk-2001@base")));
        assertTrue(expected.stream().map(Extent::flags).distinct().count() == 3, "data, zero and hole extents");
    }

    @Test
    void nbdcopyGivesTheBytesTheGeneratorPredicts(@TempDir Path dir) throws Exception {
        String expected = EsxHost.contentOf(42, 1, 2000, Profile.MIXED, DISK).sha256();
        assertEquals(expected, nbdcopySha(sim, "vm01/disk-2000@base", dir));
        assertEquals(EsxHost.contentOf(42, 2, 2001, Profile.MIXED, DISK).sha256(),
                nbdcopySha(sim, "vm02/disk-2001", dir));
        Path converted = dir.resolve("converted.raw");
        Peers.run(TIMEOUT, "qemu-img", "convert", "-f", "raw", "-O", "raw", uri(sim, "vm01/disk-2000@base"),
                converted.toString()).requireSuccess();
        assertEquals(expected, sha256(converted), "qemu-img convert reads the same bytes");
    }

    @Test
    void changedContextShowsEveryGrainWrittenBetweenSnapshots() throws Exception {
        VirtualMachine vm = sim.host().requireVm("vm02");
        Snapshot s1 = vm.createSnapshot("c1");
        String c1 = s1.disk(2000).orElseThrow().changeId().orElseThrow().toString();
        VirtualDisk disk = vm.disk(2000).orElseThrow();
        TreeSet<Long> written = new TreeSet<>();
        disk.write(5L * G + 100, Unpooled.wrappedBuffer(new byte[3 * G]));   // grains 5..8
        for (long g = 5; g <= 8; g++) {
            written.add(g);
        }
        disk.writeZeroes(600L * G, 2L * G, true);
        written.add(600L);
        written.add(601L);
        // a write through NBD by qemu-io is tracked too
        Peers.run(TIMEOUT, "qemu-io", "-f", "raw", "-c", "write -P 0xab 20M 4k", uri(sim, "vm02/disk-2000"))
                .requireSuccess();
        written.add(Grains.indexOf(20L << 20));
        Snapshot s2 = vm.createSnapshot("c2");

        List<Extent> status = map("blockmover:changed:" + c1, uri(sim, "vm02/disk-2000@c2"));
        TreeSet<Long> reported = new TreeSet<>();
        long pos = 0;
        for (Extent e : status) {
            if (e.flags() == 1) {
                for (long off = pos; off < pos + e.length(); off += G) {
                    reported.add(Grains.indexOf(off));
                }
            }
            pos += e.length();
        }
        assertEquals(DISK, pos);
        assertEquals(written, reported);
        assertEquals(s2.disk(2000).orElseThrow().changedAreas(c1, 0).changedBytes(), (long) written.size() * G);

        // a changeId the snapshot cannot answer makes the context unavailable, and nbdinfo says so
        Peers.Result bad = Peers.run(TIMEOUT, "nbdinfo", "--map=blockmover:changed:" + c1.replace("/", "x") + "/1",
                uri(sim, "vm02/disk-2000@c2"));
        assertNotEquals(0, bad.exitCode(), bad.describe());
        Peers.Result listed = Peers.run(TIMEOUT, "nbdinfo", uri(sim, "vm02/disk-2000@c2")).requireSuccess();
        assertTrue(listed.stdout().contains("blockmover:changed:" + c1), listed.stdout());
    }

    @Test
    void snapshotStaysByteIdenticalWhileTheGuestWrites(@TempDir Path dir) throws Exception {
        try (EsxSimulator churny = EsxSimulator.start(
                EsxSimulator.Options.plain(new HostSpec(7, 1, 1, 256L << 20, Profile.MIXED, true)))) {
            VirtualMachine vm = churny.host().requireVm("vm01");
            SnapshotDisk frozen = vm.createSnapshot("frozen").disk(2000).orElseThrow();
            String expected = DiskContent.sha256Of(frozen::read, frozen.capacity());
            assertEquals(EsxHost.contentOf(7, 1, 2000, Profile.MIXED, 256L << 20).sha256(), expected);

            churny.workload().rate(200L << 20);
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (churny.workload().grainsWritten() < 100 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            long before = churny.workload().grainsWritten();
            String copied = nbdcopySha(churny, "vm01/disk-2000@frozen", dir);
            long during = churny.workload().grainsWritten() - before;
            churny.workload().close();
            assertEquals(expected, copied, "snapshot read over NBD while the guest wrote " + during + " grains");
            assertNotEquals(expected, nbdcopySha(churny, "vm01/disk-2000", dir), "the live disk changed");

            // the next snapshot's changed context covers every grain that differs
            SnapshotDisk after = vm.createSnapshot("after").disk(2000).orElseThrow();
            List<Extent> status = map("blockmover:changed:" + frozen.changeId().orElseThrow(),
                    uri(churny, "vm01/disk-2000@after"));
            TreeSet<Long> reported = new TreeSet<>();
            long pos = 0;
            for (Extent e : status) {
                if (e.flags() == 1) {
                    for (long off = pos; off < pos + e.length(); off += G) {
                        reported.add(Grains.indexOf(off));
                    }
                }
                pos += e.length();
            }
            int differing = 0;
            for (long g = 0; g < after.capacity() / G; g++) {
                var x = Unpooled.buffer(G);
                var y = Unpooled.buffer(G);
                frozen.read(Grains.offsetOf(g), G, x);
                after.read(Grains.offsetOf(g), G, y);
                if (!x.equals(y)) {
                    differing++;
                    assertTrue(reported.contains(g), "grain " + g + " changed but not reported");
                }
            }
            assertTrue(differing > 50, "grains changed: " + differing);
        }
    }

    @Test
    void injectedReadErrorsAndDroppedConnectionsReachTheClient(@TempDir Path dir) throws Exception {
        String export = "vm01/disk-2000@base";
        String expected = EsxHost.contentOf(42, 1, 2000, Profile.MIXED, DISK).sha256();
        try {
            // a read error on a range that holds data (the first grain of the first data extent)
            long dataAt = 0;
            for (Extent e : EsxHost.contentOf(42, 1, 2000, Profile.MIXED, DISK).allocation(0, DISK)) {
                if (e.flags() == 0) {
                    break;
                }
                dataAt += e.length();
            }
            sim.faults().addReadError(new EsxFaults.ReadError(java.util.Optional.of(export), dataAt + 4096, 512));
            Peers.Result failed = Peers.run(TIMEOUT, "nbdcopy", uri(sim, export), dir.resolve("x.raw").toString());
            assertNotEquals(0, failed.exitCode(), failed.describe());
            assertTrue(failed.stderr().contains("Input/output error"), failed.stderr());
            assertEquals(expected, nbdcopySha(sim, "vm01/disk-2000", dir), "other exports unaffected");

            sim.faults().clear();
            sim.faults().dropAfterRequests(3);
            Peers.Result dropped = Peers.run(TIMEOUT, "nbdcopy", "--connections=1", uri(sim, export),
                    dir.resolve("y.raw").toString());
            assertNotEquals(0, dropped.exitCode(), dropped.describe());
        } finally {
            sim.faults().clear();
        }
        assertEquals(expected, nbdcopySha(sim, export, dir), "healthy again once cleared");
    }
}
