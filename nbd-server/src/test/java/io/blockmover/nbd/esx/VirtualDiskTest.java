package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.Extent;
import io.blockmover.nbd.units.ByteRange;

import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtualDiskTest {
    private static final long TIB = 1L << 40;
    private static final int G = Grains.SIZE;

    private static byte[] pattern(int length, int salt) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 31 + salt);
        }
        return b;
    }

    private static VirtualMachine oneVm(long capacity, Profile profile) {
        EsxHost host = new EsxHost(42);
        VirtualMachine vm = host.addVm("web01", List.of(DiskConfig.thin(capacity, profile)));
        vm.enableCbt();
        return vm;
    }

    @Test
    void terabyteDiskCostsOnlyWhatWasWritten() {
        VirtualDisk d = oneVm(TIB, Profile.MIXED).disks().getFirst();
        assertEquals(0, d.writtenGrains());
        long[] offsets = {0, 7L * G + 123, TIB / 2, TIB - G};
        for (long off : offsets) {
            d.write(off, Unpooled.wrappedBuffer(pattern(4096, (int) off)));
        }
        assertEquals(4, d.writtenGrains());
        assertTrue(d.overlayChunks() <= 4, "chunks " + d.overlayChunks());
        for (long off : offsets) {
            assertArrayEquals(pattern(4096, (int) off), Bytes.of(d::read, off, 4096));
        }
        // bytes around a partial write keep their base content (read-modify-write of the grain)
        long off = 7L * G + 123;
        assertArrayEquals(Bytes.of(d.content()::read, 7L * G, 123), Bytes.of(d::read, 7L * G, 123));
        assertArrayEquals(Bytes.of(d.content()::read, off + 4096, G - 123 - 4096), Bytes.of(d::read, off + 4096, G - 123 - 4096));
        // an untouched far region is the generator's content
        assertArrayEquals(Bytes.of(d.content()::read, TIB / 4, 300_000), Bytes.of(d::read, TIB / 4, 300_000));
    }

    @Test
    void zeroesAndTrimShowInAllocation() {
        VirtualDisk d = oneVm(64L << 20, Profile.RANDOM).disks().getFirst();
        d.writeZeroes(0, 2L * G, true);
        d.writeZeroes(2L * G, G, false);
        d.writeZeroes(3L * G + 10, 20, true);
        List<Extent> map = d.extents(0, 5L * G);
        assertEquals(List.of(new Extent(2L * G, Extent.HOLE | Extent.ZERO), new Extent(G, Extent.ZERO),
                new Extent(2L * G, 0)), map);
        assertArrayEquals(new byte[3 * G], Bytes.of(d::read, 0, 3 * G));
        assertArrayEquals(new byte[20], Bytes.of(d::read, 3L * G + 10, 20));
        assertArrayEquals(Bytes.of(d.content()::read, 3L * G, 10), Bytes.of(d::read, 3L * G, 10));
    }

    @Test
    void changedAreasReturnEveryWrittenGrainAfterTheChangeId() throws Exception {
        VirtualMachine vm = oneVm(TIB, Profile.MIXED);
        VirtualDisk d = vm.disks().getFirst();
        d.write(5L * G, Unpooled.wrappedBuffer(pattern(G, 1))); // before the base snapshot: not reported
        Snapshot s1 = vm.createSnapshot("s1");
        String c1 = s1.disks().getFirst().changeId().orElseThrow().toString();
        assertTrue(c1.matches("[0-9a-f-]{36}/[0-9]+") && !c1.startsWith(d.spec().uuid()),
                "a changeId names a tracking period, not just the disk: " + c1);

        TreeSet<Long> written = new TreeSet<>();
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        for (int i = 0; i < 300; i++) {
            long off = r.nextLong(TIB - 10_000);
            int len = 1 + r.nextInt(9_999);
            d.write(off, Unpooled.wrappedBuffer(pattern(len, i)));
            for (long g = Grains.indexOf(off); g <= Grains.indexOf(off + len - 1); g++) {
                written.add(g);
            }
        }
        d.writeZeroes(TIB - 3L * G, 3L * G, true);
        for (long g = Grains.indexOf(TIB) - 3; g < Grains.indexOf(TIB); g++) {
            written.add(g);
        }
        d.guestWrite(123_456, true, 99, true);
        written.add(123_456L);

        Snapshot s2 = vm.createSnapshot("s2");
        SnapshotDisk sd = s2.disks().getFirst();
        List<Long> reported = new ArrayList<>();
        long start = 0;
        while (start < sd.capacity()) {
            ChangedAreas page = sd.changedAreas(c1, start);
            for (ByteRange a : page.areas()) {
                for (long off = a.offset(); off < a.end(); off += G) {
                    reported.add(Grains.indexOf(off));
                }
            }
            start = page.startOffset() + page.length();
        }
        assertEquals(new ArrayList<>(written), reported, "exactly the grains written after s1");
        // the base snapshot's own changeId asked of itself: nothing changed
        assertEquals(List.of(), s1.disks().getFirst().changedAreas(c1, 0).areas());
        // later writes do not leak into s2's answer
        d.write(9L * G, Unpooled.wrappedBuffer(pattern(G, 5)));
        assertFalse(sd.changedAreas(c1, 0).areas().contains(new ByteRange(9L * G, G)));
        // but the live disk reports them
        assertTrue(d.changedAreas(sd.changeId().orElseThrow().toString(), 0).areas().contains(new ByteRange(9L * G, G)));
    }

    @Test
    void badChangeIdsAreRefusedWithTypedFaults() throws Exception {
        EsxHost host = new EsxHost(1);
        VirtualMachine vm = host.addVm("a", List.of(DiskConfig.thin(1L << 30, Profile.MIXED),
                DiskConfig.thin(1L << 30, Profile.MIXED)));
        SnapshotDisk before = vm.createSnapshot("no-cbt").disks().getFirst();
        assertTrue(before.changeId().isEmpty(), "no changeId without CBT");
        vm.enableCbt();
        Snapshot s = vm.createSnapshot("s");
        SnapshotDisk d0 = s.disks().get(0);
        SnapshotDisk d1 = s.disks().get(1);
        String good = d0.changeId().orElseThrow().toString();
        String tracking = good.substring(0, good.lastIndexOf('/'));

        assertEquals(ChangeIdFault.Reason.OTHER_DISK,
                assertThrows(ChangeIdFault.class, () -> d0.changedAreas(d1.changeId().orElseThrow().toString(), 0)).reason());
        assertEquals(ChangeIdFault.Reason.MALFORMED,
                assertThrows(ChangeIdFault.class, () -> d0.changedAreas("garbage", 0)).reason());
        assertEquals(ChangeIdFault.Reason.BEFORE_CBT_ENABLED,
                assertThrows(ChangeIdFault.class, () -> d0.changedAreas(tracking + "/0", 0)).reason());
        assertEquals(ChangeIdFault.Reason.UNKNOWN_SEQUENCE,
                assertThrows(ChangeIdFault.class, () -> d0.changedAreas(tracking + "/99", 0)).reason());

        // The same host restarted (same seed, same disk uuids): the old changeId is not honoured.
        EsxHost restarted = new EsxHost(1);
        VirtualMachine again = restarted.addVm("a", List.of(DiskConfig.thin(1L << 30, Profile.MIXED),
                DiskConfig.thin(1L << 30, Profile.MIXED)));
        again.enableCbt();
        SnapshotDisk fresh = again.createSnapshot("s").disks().getFirst();
        assertEquals(d0.spec().uuid(), fresh.spec().uuid());
        assertEquals(ChangeIdFault.Reason.OTHER_DISK,
                assertThrows(ChangeIdFault.class, () -> fresh.changedAreas(good, 0)).reason());
        assertEquals(0, d0.changedAreas(good, 0).areas().size());

        d0.disk().resetCbt();
        ChangeIdFault afterReset = assertThrows(ChangeIdFault.class, () -> d0.disk().changedAreas(good, 0));
        assertEquals(ChangeIdFault.Reason.BEFORE_CBT_ENABLED, afterReset.getMessage().contains("FileFault")
                ? afterReset.reason() : null);
        d0.disk().disableCbt();
        assertEquals(ChangeIdFault.Reason.CBT_DISABLED,
                assertThrows(ChangeIdFault.class, () -> d0.disk().changedAreas(good, 0)).reason());
    }

    @Test
    void snapshotStaysFrozenWhileTheLiveDiskChanges() throws Exception {
        VirtualMachine vm = oneVm(16L << 20, Profile.MIXED);
        VirtualDisk d = vm.disks().getFirst();
        d.write(3L * G, Unpooled.wrappedBuffer(pattern(G, 7)));
        String liveBefore = DiskContent.sha256Of(d::read, d.capacity());
        Snapshot s = vm.createSnapshot("frozen");
        SnapshotDisk sd = s.disk(2000).orElseThrow();
        assertEquals(liveBefore, DiskContent.sha256Of(sd::read, sd.capacity()));

        d.write(3L * G + 5, Unpooled.wrappedBuffer(pattern(100, 8)));   // partial over a stored grain
        d.write(0, Unpooled.wrappedBuffer(pattern(3 * G + 17, 9)));      // full and partial grains
        d.writeZeroes(8L * G, 4L * G, true);
        d.guestWrite(100, false, 5, true);
        d.writeUntracked(200L * G, Unpooled.wrappedBuffer(pattern(G, 10)));

        assertEquals(liveBefore, DiskContent.sha256Of(sd::read, sd.capacity()), "snapshot unchanged");
        assertNotEquals(liveBefore, DiskContent.sha256Of(d::read, d.capacity()), "live disk changed");
        // the untracked write changed data but CBT does not report it: the "silent CBT miss" fault
        List<ByteRange> changed = d.changedAreas(sd.changeId().orElseThrow().toString(), 0).areas();
        assertFalse(changed.stream().anyMatch(a -> a.offset() <= 200L * G && a.end() > 200L * G), changed.toString());
        assertArrayEquals(pattern(G, 10), Bytes.of(d::read, 200L * G, G));
        assertArrayEquals(Bytes.of(d.content()::read, 200L * G, G), Bytes.of(sd::read, 200L * G, G));

        vm.removeSnapshot("frozen");
        assertTrue(vm.snapshots().isEmpty());
        assertThrows(IllegalArgumentException.class, () -> vm.removeSnapshot("frozen"));
    }

    @Test
    void independentDisksAreNotSnapshottedAndHaveNoCbt() {
        EsxHost host = new EsxHost(1);
        VirtualMachine vm = host.addVm("db01", List.of(DiskConfig.thin(1L << 30, Profile.MIXED),
                new DiskConfig(1L << 30, Profile.MIXED, DiskMode.INDEPENDENT_PERSISTENT, true)));
        vm.enableCbt();
        assertTrue(vm.disks().get(0).cbtEnabled());
        assertFalse(vm.disks().get(1).cbtEnabled());
        assertThrows(IllegalStateException.class, () -> vm.disks().get(1).enableCbt());
        Snapshot s = vm.createSnapshot("s");
        assertEquals(List.of(2000), s.disks().stream().map(x -> x.spec().deviceKey()).toList());
        assertEquals("[datastore1] db01/db01_1.vmdk", vm.disks().get(1).spec().fileName());
    }

    @Test
    void hostIsDeterministicFromItsSeed() {
        HostSpec spec = new HostSpec(42, 2, 2, 1L << 30, Profile.MIXED, true);
        EsxHost a = EsxHost.generate(spec);
        EsxHost b = EsxHost.generate(spec);
        assertEquals(a.vms().get(1).disks().get(1).spec(), b.vms().get(1).disks().get(1).spec());
        assertEquals("vm-12", a.vms().get(1).identity().moref());
        DiskContent expected = EsxHost.contentOf(42, 2, 2001, Profile.MIXED, 1L << 30);
        assertEquals(expected, a.vm("vm02").orElseThrow().disk(2001).orElseThrow().content());
    }

    @Test
    void aCapacityThatIsNotAWholeNumberOfGrainsWorksToTheLastByte() throws Exception {
        long capacity = 5L * G + 12_345;
        VirtualMachine vm = oneVm(capacity, Profile.RANDOM);
        VirtualDisk d = vm.disks().getFirst();
        String c1 = vm.createSnapshot("a").disks().getFirst().changeId().orElseThrow().toString();
        assertEquals(capacity, d.extents(0, capacity).stream().mapToLong(Extent::length).sum());
        d.write(5L * G, Unpooled.wrappedBuffer(pattern(12_345, 3)));          // the whole short last grain
        d.write(capacity - 10, Unpooled.wrappedBuffer(pattern(10, 4)));        // its last bytes again
        byte[] expected = pattern(12_345, 3);
        System.arraycopy(pattern(10, 4), 0, expected, 12_335, 10);
        assertArrayEquals(expected, Bytes.of(d::read, 5L * G, 12_345));
        SnapshotDisk b = vm.createSnapshot("b").disks().getFirst();
        assertEquals(List.of(new ByteRange(5L * G, 12_345)), b.changedAreas(c1, 0).areas());
        assertThrows(IndexOutOfBoundsException.class, () -> d.write(capacity - 1, Unpooled.wrappedBuffer(new byte[2])));
        assertEquals(DiskContent.sha256Of(d::read, capacity), DiskContent.sha256Of(b::read, capacity));
    }
}
