package io.blockmover.mover.cli;

import io.blockmover.mover.vsphere.VcenterConnection;
import io.blockmover.mover.vsphere.VmInfo;
import io.blockmover.mover.vsphere.VmInventory;
import io.blockmover.mover.vsphere.VmSelector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code vm list} and {@code vm show}: the VMs vCenter has, their disks and snapshots. */
@Command(name = "vm", mixinStandardHelpOptions = true, description = "List or show VMs through vCenter.",
        subcommands = {VmCommand.ListVms.class, VmCommand.ShowVm.class})
final class VmCommand {

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List every VM: name, moref, uuids, disks.")
    static final class ListVms implements Callable<Integer> {
        @Mixin
        VcenterOptions vcenter;

        @Option(names = "--json", description = "Print JSON on stdout.")
        boolean json;

        @Override
        public Integer call() throws Exception {
            try (VcenterConnection c = vcenter.connect()) {
                List<VmInfo> vms = new VmInventory(c).list();
                if (json) {
                    System.out.println(JsonWriter.write(vms.stream().map(VmCommand::toJson).toList()));
                } else {
                    for (VmInfo vm : vms) {
                        System.out.printf(Locale.ROOT, "%-24s %-8s %-10s cbt=%s disks=%d snapshots=%d%n", vm.name(), vm.moref(),
                                vm.powerState(), vm.cbtEnabled() ? "on" : "off", vm.disks().size(), vm.snapshots().size());
                    }
                }
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one VM: identity, disks (mode, changeId), snapshots.")
    static final class ShowVm implements Callable<Integer> {
        @Mixin
        VcenterOptions vcenter;

        @Option(names = "--vm", required = true, paramLabel = "SELECTOR",
                description = "name:, path:, ip:, dns:, uuid:, instance-uuid: or moref: and a value.")
        String vm;

        @Option(names = "--json", description = "Print JSON on stdout.")
        boolean json;

        @Override
        public Integer call() throws Exception {
            VmSelector selector = VmSelector.parse(vm);
            try (VcenterConnection c = vcenter.connect()) {
                VmInventory inventory = new VmInventory(c);
                VmInfo info = inventory.get(selector.resolve(c, inventory));
                if (json) {
                    System.out.println(JsonWriter.write(toJson(info)));
                    return 0;
                }
                System.out.printf(Locale.ROOT, "%s (%s) %s, cbt %s%n  uuid %s, instance uuid %s%n  guest %s %s%n", info.name(),
                        info.moref(), info.powerState(), info.cbtEnabled() ? "on" : "off", info.uuid(), info.instanceUuid(),
                        info.ipAddress(), info.hostName());
                for (VmInfo.Disk d : info.disks()) {
                    System.out.printf(Locale.ROOT, "  disk %d %s: %s, %s, %d bytes, changeId %s%s%n", d.deviceKey(), d.label(),
                            d.fileName(), d.physicalRdm() ? "physical RDM" : d.diskMode(), d.capacity(),
                            d.changeId().orElse("-"), d.skipReason().map(r -> " (not backed up: " + r + ")").orElse(""));
                }
                for (VmInfo.SnapshotInfo s : info.snapshots()) {
                    System.out.printf(Locale.ROOT, "  snapshot %s (%s) %s%s %s%n", s.name(), s.moref(), s.created(),
                            s.quiesced() ? " quiesced" : "", s.description());
                }
            }
            return 0;
        }
    }

    static Map<String, Object> toJson(VmInfo vm) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", vm.name());
        m.put("moref", vm.moref());
        m.put("uuid", vm.uuid());
        m.put("instanceUuid", vm.instanceUuid());
        m.put("powerState", vm.powerState());
        m.put("cbtEnabled", vm.cbtEnabled());
        m.put("ipAddress", vm.ipAddress());
        m.put("hostName", vm.hostName());
        m.put("disks", vm.disks().stream().map(d -> {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("deviceKey", d.deviceKey());
            dm.put("label", d.label());
            dm.put("fileName", d.fileName());
            dm.put("capacity", d.capacity());
            dm.put("diskMode", d.diskMode());
            dm.put("physicalRdm", d.physicalRdm());
            dm.put("uuid", d.uuid());
            dm.put("changeId", d.changeId().orElse(null));
            dm.put("skip", d.skipReason().orElse(null));
            return dm;
        }).toList());
        m.put("snapshots", vm.snapshots().stream().map(s -> {
            Map<String, Object> sm = new LinkedHashMap<>();
            sm.put("name", s.name());
            sm.put("moref", s.moref());
            sm.put("description", s.description());
            sm.put("created", s.created().toString());
            sm.put("quiesced", s.quiesced());
            return sm;
        }).toList());
        return m;
    }
}
