package io.blockmover.nbd.esx;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Writers patching disjoint slots of the same grains at once, while snapshots are taken: no
 * write is lost, and every snapshot holds whole writes (each slot is one complete round).
 */
class ConcurrentWritesTest {
    private static final int SLOT = 1000;
    private static final int WRITERS = 4;
    private static final int ROUNDS = 300;
    private static final int GRAINS = 3;

    private static byte value(int writer, int round) {
        return (byte) (writer * 64 + round % 61 + 1);
    }

    /** Slot {@code s} of writer {@code w}: every (WRITERS)th slot across the first grains. */
    private static long slotOffset(int writer, int s) {
        return (long) (s * WRITERS + writer) * SLOT + 7;
    }

    private static int slotsPerWriter() {
        return (GRAINS * Grains.SIZE - 7) / SLOT / WRITERS;
    }

    @Test
    void noLostUpdatesAndSnapshotsHoldWholeWrites() throws Exception {
        EsxHost host = new EsxHost(3);
        VirtualMachine vm = host.addVm("busy", List.of(DiskConfig.thin(64L << 20, Profile.RANDOM)));
        vm.enableCbt();
        VirtualDisk disk = vm.disks().getFirst();
        ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
        List<Future<?>> writers = new ArrayList<>();
        for (int w = 0; w < WRITERS; w++) {
            int writer = w;
            writers.add(pool.submit(() -> {
                ByteBuf data = Unpooled.buffer(SLOT);
                for (int round = 0; round < ROUNDS; round++) {
                    byte v = value(writer, round);
                    for (int s = 0; s < slotsPerWriter(); s++) {
                        data.clear();
                        for (int i = 0; i < SLOT; i++) {
                            data.writeByte(v);
                        }
                        disk.write(slotOffset(writer, s), data);
                    }
                    if (round % 50 == 0) {
                        // a whole-grain write racing the partial ones: must not resurrect old bytes
                        disk.writeZeroes(Grains.offsetOf(GRAINS + writer), Grains.SIZE, writer % 2 == 0);
                    }
                }
                return null;
            }));
        }
        List<Snapshot> snapshots = new ArrayList<>();
        for (int i = 0; !writers.stream().allMatch(Future::isDone); i++) {
            snapshots.add(vm.createSnapshot("s" + i));
            Thread.sleep(2);
        }
        for (Future<?> f : writers) {
            f.get(60, TimeUnit.SECONDS);
        }
        pool.shutdown();

        ByteBuf slot = Unpooled.buffer(SLOT);
        for (int w = 0; w < WRITERS; w++) {
            for (int s = 0; s < slotsPerWriter(); s++) {
                slot.clear();
                disk.read(slotOffset(w, s), SLOT, slot);
                for (int i = 0; i < SLOT; i++) {
                    assertEquals(value(w, ROUNDS - 1), slot.getByte(i), "writer " + w + " slot " + s + " byte " + i);
                }
            }
        }
        assertTrue(snapshots.size() >= 1);
        ByteBuf base = Unpooled.buffer(SLOT);
        for (Snapshot snap : snapshots) {
            SnapshotDisk sd = snap.disks().getFirst();
            for (int w = 0; w < WRITERS; w++) {
                for (int s = 0; s < slotsPerWriter(); s += 7) {
                    slot.clear();
                    sd.read(slotOffset(w, s), SLOT, slot);
                    base.clear();
                    disk.content().read(slotOffset(w, s), SLOT, base);
                    if (slot.equals(base)) {
                        continue;   // not yet written when the snapshot was taken
                    }
                    byte first = slot.getByte(0);
                    for (int i = 1; i < SLOT; i++) {
                        assertEquals(first, slot.getByte(i), "snapshot " + snap.name() + " holds a torn write");
                    }
                }
            }
        }
    }

    @Test
    void aSnapshotFreezesAllDisksOfTheVmAtOneInstant() throws Exception {
        EsxHost host = new EsxHost(4);
        VirtualMachine vm = host.addVm("pair", List.of(DiskConfig.thin(4L << 30, Profile.EMPTY),
                DiskConfig.thin(4L << 30, Profile.EMPTY)));
        VirtualDisk first = vm.disks().get(0);
        VirtualDisk second = vm.disks().get(1);
        // a grain written in every table chunk makes freezing a disk take long enough for writes
        // to slip between two disks' freezes if they were not frozen at one instant
        for (long off = 1L << 20; off < 4L << 30; off += 8L << 20) {
            first.writeZeroes(off, Grains.SIZE, true);
            second.writeZeroes(off, Grains.SIZE, true);
        }
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        // the guest writes a counter to the first disk, then to the second: in any crash-consistent
        // state the first disk's counter equals the second's or is one ahead
        Thread writer = Thread.ofPlatform().start(() -> {
            ByteBuf v = Unpooled.buffer(8);
            for (long n = 1; !stop.get(); n++) {
                v.clear().writeLong(n);
                first.write(0, v);
                second.write(0, v);
            }
        });
        try {
            for (int i = 0; i < 300; i++) {
                Snapshot s = vm.createSnapshot("s" + i);
                ByteBuf a = Unpooled.buffer(8);
                ByteBuf b = Unpooled.buffer(8);
                s.disks().get(0).read(0, 8, a);
                s.disks().get(1).read(0, 8, b);
                long diff = a.readLong() - b.readLong();
                assertTrue(diff == 0 || diff == 1, "snapshot " + i + " froze the disks at different instants: " + diff);
                vm.removeSnapshot(s.name());
            }
        } finally {
            stop.set(true);
            writer.join();
        }
    }
}
