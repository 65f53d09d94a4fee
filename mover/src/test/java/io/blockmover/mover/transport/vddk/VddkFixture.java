package io.blockmover.mover.transport.vddk;

import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.ExportNames;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.esx.VirtualDisk;
import io.blockmover.nbd.esx.VirtualMachine;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The VDDK test fixture (native-bridge's C library) pointed at an emulated host: its config file
 * maps every VM moref, snapshot moref and disk path of the host to the NBD export serving it, as
 * VDDK would find the disk through vCenter; modes can be refused to exercise failover.
 */
public final class VddkFixture {
    private final EsxSimulator sim;
    private final Path config;
    private String refused = "";

    public VddkFixture(EsxSimulator sim, Path config) throws IOException {
        this.sim = sim;
        this.config = config;
        write();
    }

    /** Where the fixture library lives (lib64/libvixDiskLib.so), built by native-bridge. */
    public static Path libDir() {
        return Path.of(System.getProperty("bm.vddkFixtureDir", "../native-bridge/target/vddk-test-fixture"));
    }

    public Path config() {
        return config;
    }

    /** Rewrites the config from the host's current snapshots (the fixture reads it at every ConnectEx). */
    public void write() throws IOException {
        List<String> lines = new ArrayList<>();
        for (VirtualMachine vm : sim.host().vms()) {
            for (VirtualDisk d : vm.disks()) {
                lines.add("fixture.disk = " + vm.identity().moref() + "|-|" + d.spec().fileName() + "|"
                        + ExportNames.live(vm.name(), d.spec().deviceKey()));
            }
            for (Snapshot s : vm.snapshots()) {
                for (SnapshotDisk d : s.disks()) {
                    lines.add("fixture.disk = " + vm.identity().moref() + "|" + s.moref() + "|" + d.spec().fileName() + "|"
                            + ExportNames.snapshot(vm.name(), d.spec().deviceKey(), s.name()));
                }
            }
        }
        if (!refused.isEmpty()) {
            lines.add("fixture.refuseModes = " + refused);
        }
        Files.write(config, lines);
    }

    /** Makes the fixture refuse these modes (colon list; "" refuses none). */
    public void refuse(String modes) throws IOException {
        refused = modes;
        write();
    }

    public String uri(VirtualMachine vm, Snapshot s) {
        return "vddk://127.0.0.1:" + sim.nbdAddress().getPort() + "/" + vm.identity().moref() + "/" + s.moref() + "/"
                + encode(s.disks().getFirst().spec().fileName());
    }

    public String liveUri(VirtualMachine vm) {
        return "vddk://127.0.0.1:" + sim.nbdAddress().getPort() + "/" + vm.identity().moref() + "/-/"
                + encode(vm.disks().getFirst().spec().fileName());
    }

    public String nbdUri(VirtualMachine vm, Snapshot s) {
        return "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/"
                + ExportNames.snapshot(vm.name(), s.disks().getFirst().spec().deviceKey(), s.name());
    }

    public String changedAreas(VirtualMachine vm, Snapshot s) {
        return sim.controlUrl().orElseThrow() + "/changed?export="
                + URLEncoder.encode(ExportNames.snapshot(vm.name(), s.disks().getFirst().spec().deviceKey(), s.name()), StandardCharsets.UTF_8);
    }

    private static String encode(String path) {
        return URLEncoder.encode(path, StandardCharsets.UTF_8).replace("+", "%20").replace("%2F", "/");
    }
}
