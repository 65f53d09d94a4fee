package io.blockmover.mover.transport.nbd;

import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.VirtualDisk;
import io.blockmover.nbd.esx.VirtualMachine;
import io.blockmover.nbd.units.ByteRange;

import static io.blockmover.mover.transport.nbd.ClientTesting.*;
import static org.junit.jupiter.api.Assertions.*;

import io.netty.buffer.Unpooled;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Our client against the emulated ESX host: snapshot content, allocation and CBT changed areas. */
class EmulatedHostTest {

    @Test
    void snapshotReadsExtentsAndChangedAreas() throws Exception {
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(
                new HostSpec(42, 1, 1, 48L << 20, Profile.MIXED, true)))) {
            VirtualMachine vm = sim.host().requireVm("vm01");
            VirtualDisk disk = vm.disks().getFirst();
            int key = disk.spec().deviceKey();
            Snapshot first = vm.createSnapshot("s1");
            String changeId = first.disk(key).orElseThrow().changeId().orElseThrow().toString();
            String base = "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-" + key;

            try (NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(base + "@s1"), ConnectOptions.DEFAULT)) {
                assertEquals(disk.content().sha256(), sha256(readAll(s, 512 << 10, 32)));
                List<DiskExtent> extents = s.extents(0, s.capacity()).get(20, TimeUnit.SECONDS);
                assertEquals(nbdinfoMap(base + "@s1"), extents);
            }

            disk.write(5L << 20, Unpooled.wrappedBuffer(new byte[64 << 10]).setIndex(0, 64 << 10));
            disk.write(20L << 20, Unpooled.wrappedBuffer(new byte[128 << 10]).setIndex(0, 128 << 10));
            vm.createSnapshot("s2");
            try (NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(base + "@s2"),
                    ConnectOptions.DEFAULT.withMetaContexts(List.of(NbdDiskSource.contextFor(changeId))))) {
                assertEquals(List.of(new ByteRange(5L << 20, 64 << 10), new ByteRange(20L << 20, 128 << 10)),
                        s.changedSince(changeId).get(20, TimeUnit.SECONDS));
            }
        }
    }
}
