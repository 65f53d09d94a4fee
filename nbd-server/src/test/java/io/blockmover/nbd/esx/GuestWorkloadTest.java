package io.blockmover.nbd.esx;

import io.blockmover.nbd.units.ByteRange;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuestWorkloadTest {

    @Test
    void workloadIsDeterministicAndCostsSeedsNotBytes() throws Exception {
        HostSpec spec = new HostSpec(5, 1, 2, 1L << 40, Profile.MIXED, true);
        EsxHost a = EsxHost.generate(spec);
        EsxHost b = EsxHost.generate(spec);
        new GuestWorkload(a, 9, GuestWorkload.Pattern.RANDOM).writeGrains(2000);
        new GuestWorkload(b, 9, GuestWorkload.Pattern.RANDOM).writeGrains(2000);
        VirtualDisk da = a.vms().getFirst().disks().get(1);
        VirtualDisk db = b.vms().getFirst().disks().get(1);
        assertTrue(da.writtenGrains() > 900, "about half of 2000 grains per disk: " + da.writtenGrains());
        ChangedAreas ca = da.changedAreas("*", 0);
        assertEquals(ca, db.changedAreas("*", 0));
    }

    @Test
    void snapshotStaysByteIdenticalWhileTheWorkloadWrites() throws Exception {
        EsxHost host = EsxHost.generate(new HostSpec(3, 1, 1, 32L << 20, Profile.MIXED, true));
        VirtualMachine vm = host.vms().getFirst();
        VirtualDisk live = vm.disks().getFirst();
        try (GuestWorkload w = new GuestWorkload(host, 1, GuestWorkload.Pattern.SEQUENTIAL)) {
            w.rate(64L << 20);
            awaitGrains(w, 50);
            Snapshot s = vm.createSnapshot("s");
            SnapshotDisk sd = s.disks().getFirst();
            String first = DiskContent.sha256Of(sd::read, sd.capacity());
            long before = w.grainsWritten();
            awaitGrains(w, before + 200);
            assertEquals(first, DiskContent.sha256Of(sd::read, sd.capacity()), "snapshot unchanged under writes");
            assertNotEquals(first, DiskContent.sha256Of(live::read, live.capacity()), "live disk moved on");
            w.close();
            // every grain whose bytes differ from the snapshot is reported as changed (no misses)
            java.util.Set<Long> reported = new java.util.HashSet<>();
            for (ByteRange a : live.changedAreas(sd.changeId().orElseThrow().toString(), 0).areas()) {
                for (long off = a.offset(); off < a.end(); off += Grains.SIZE) {
                    reported.add(Grains.indexOf(off));
                }
            }
            int differing = 0;
            for (long g = 0; g < live.content().grainCount(); g++) {
                io.netty.buffer.ByteBuf x = io.netty.buffer.Unpooled.buffer(Grains.SIZE);
                io.netty.buffer.ByteBuf y = io.netty.buffer.Unpooled.buffer(Grains.SIZE);
                live.read(Grains.offsetOf(g), Grains.SIZE, x);
                sd.read(Grains.offsetOf(g), Grains.SIZE, y);
                if (!x.equals(y)) {
                    differing++;
                    assertTrue(reported.contains(g), "grain " + g + " changed but not reported");
                }
            }
            assertTrue(differing > 100, "the workload changed grains after the snapshot: " + differing);
        }
    }

    private static void awaitGrains(GuestWorkload w, long n) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (w.grainsWritten() < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("workload wrote only " + w.grainsWritten() + " grains of " + n);
            }
            Thread.sleep(5);
        }
    }
}
