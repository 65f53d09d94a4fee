package io.blockmover.nbd.esx;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The emulated host takes only names that are safe as export names and, on the backup side, as file names. */
class EsxNamesTest {
    @Test
    void hostileVmAndSnapshotNamesAreRefused() {
        EsxHost host = new EsxHost(1);
        for (String bad : List.of("..", ".", "x/../../outside", "x/y", "vm\n01", "a\\b", "", "x".repeat(65))) {
            assertThrows(IllegalArgumentException.class, () -> host.addVm(bad, List.of(DiskConfig.thin(1 << 20, Profile.EMPTY))), bad);
        }
        VirtualMachine vm = host.addVm("vm01", List.of(DiskConfig.thin(1 << 20, Profile.EMPTY)));
        for (String bad : List.of("..", ".", "s/1", "s\n1")) {
            assertThrows(IllegalArgumentException.class, () -> vm.createSnapshot(bad), bad);
        }
        assertEquals("vm01", host.requireVm("vm01").name());
    }
}
