package io.blockmover.nbd.esx;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A terabyte thin disk costs memory for what was written, not for its capacity. Asserts the
 * overlay's structure (grains, table chunks) and prints the heap and direct memory measured after
 * a GC, so the numbers can be reported; memory is not asserted because GC timing is not exact.
 */
class ThinDiskMemoryTest {
    private static final long TIB = 1L << 40;

    private static long heapUsed() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static long directUsed() {
        return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
    }

    @Test
    void terabyteDiskWithAGibibyteOfGuestWritesAndClientWrites() {
        long heapBefore = heapUsed();
        long directBefore = directUsed();
        EsxHost host = new EsxHost(42);
        VirtualMachine vm = host.addVm("big", java.util.List.of(DiskConfig.thin(TIB, Profile.MIXED),
                DiskConfig.thin(TIB, Profile.MIXED)));
        vm.enableCbt();
        long heapEmpty = heapUsed();

        // 1 GiB of guest workload writes (16384 grains, stored as generator seeds) on a VM of its own
        EsxHost guestHost = new EsxHost(43);
        VirtualDisk guestDisk = guestHost.addVm("busy", java.util.List.of(DiskConfig.thin(TIB, Profile.MIXED)))
                .disks().getFirst();
        GuestWorkload w = new GuestWorkload(guestHost, 1, GuestWorkload.Pattern.RANDOM);
        while (guestDisk.writtenGrains() < 16_384) {
            w.writeGrains(16_384 - guestDisk.writtenGrains());
        }
        long heapGuest = heapUsed();

        // 256 MiB of client bytes (as NBD WRITEs bring them) in 1 MiB writes scattered over disk 2001
        VirtualDisk clientDisk = vm.disk(2001).orElseThrow();
        ByteBuf data = Unpooled.directBuffer(1 << 20);
        Generators.appendRandom(7, 0, 1 << 20, data);
        SplittableRandom r = new SplittableRandom(1);
        java.util.Set<Long> offsets = new java.util.HashSet<>();
        while (offsets.size() < 256) {
            long off = r.nextLong(TIB >>> 20) << 20;
            if (offsets.add(off)) {
                clientDisk.write(off, data);
            }
        }
        data.release();
        long heapClient = heapUsed();
        long direct = directUsed() - directBefore;

        assertEquals(256 * 16, clientDisk.writtenGrains());
        assertTrue(clientDisk.overlayChunks() <= 256, "one table chunk per scattered 1 MiB write at most");
        assertTrue(guestDisk.writtenGrains() >= 16_384);
        assertTrue(guestDisk.overlayChunks() <= 16_384);
        System.out.printf("1 TiB x2 thin disks: heap empty host %.1f MiB; +1 GiB guest writes %.1f MiB;"
                        + " +256 MiB client writes %.1f MiB heap and %.1f MiB direct%n",
                (heapEmpty - heapBefore) / 1048576.0, (heapGuest - heapEmpty) / 1048576.0,
                (heapClient - heapGuest) / 1048576.0, direct / 1048576.0);
    }
}
