package io.blockmover.nbd.esx.sdk;

import io.blockmover.nbd.esx.ChangeId;
import io.blockmover.nbd.esx.DiskSpec;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.VirtualDisk;
import io.blockmover.nbd.esx.VirtualMachine;

import java.util.List;
import java.util.Optional;

/**
 * Writers of vSphere data objects (vim25 types) with the fields a backup client reads. Field
 * names are vim25's; fields a client does not need are left out (every vim25 field is optional
 * to a reader), never invented.
 */
final class Vim {
    private static final int SCSI_CONTROLLER_KEY = 1000;

    private Vim() {}

    static void about(SoapWriter w, String instanceUuid) {
        w.text("name", "VMware vCenter Server")
                .text("fullName", "VMware vCenter Server 6.7.0 build-0 (blockmover esxsim)")
                .text("vendor", "VMware, Inc.")
                .text("version", "6.7.0")
                .text("build", "0")
                .text("localeVersion", "INTL")
                .text("localeBuild", "000")
                .text("osType", "linux-x64")
                .text("productLineId", "vpx")
                .text("apiType", "VirtualCenter")
                .text("apiVersion", "6.7")
                .text("instanceUuid", instanceUuid);
    }

    static void userSession(SoapWriter w, Sessions.Session s) {
        w.text("key", s.key())
                .text("userName", s.userName())
                .text("fullName", s.userName())
                .time("loginTime", s.loginTime())
                .time("lastActiveTime", s.lastActive())
                .text("locale", "en")
                .text("messageLocale", "en");
    }

    /** A VirtualMachineConfigInfo: of the VM now, or as {@code snapshot} froze it. */
    static void config(SoapWriter w, VirtualMachine vm, Optional<Snapshot> snapshot) {
        w.text("name", vm.name())
                .text("guestFullName", "Other 4.x or later Linux (64-bit)")
                .text("version", "vmx-" + vm.identity().hardwareVersion())
                .text("uuid", vm.identity().uuid())
                .text("instanceUuid", vm.identity().instanceUuid())
                .text("template", false)
                .text("guestId", "other4xLinux64Guest");
        w.start("hardware").text("numCPU", 2).text("numCoresPerSocket", 1).text("memoryMB", 4096);
        devices(w, "device", vm, snapshot);
        w.end();
        w.text("changeTrackingEnabled", vm.cbtEnabled());
    }

    /** Every disk of the VM as a VirtualDisk device, each element named {@code tag}. */
    static void devices(SoapWriter w, String tag, VirtualMachine vm, Optional<Snapshot> snapshot) {
        List<VirtualDisk> disks = vm.disks();
        for (int i = 0; i < disks.size(); i++) {
            disk(w, tag, disks.get(i), i, Properties.changeId(disks.get(i), snapshot));
        }
    }

    private static void disk(SoapWriter w, String tag, VirtualDisk disk, int unit, Optional<ChangeId> changeId) {
        DiskSpec s = disk.spec();
        w.start(tag, "VirtualDisk").text("key", s.deviceKey());
        w.start("deviceInfo").text("label", "Hard disk " + (unit + 1)).text("summary", s.capacity() / 1024 + " KB").end();
        if (s.physicalRdm()) {
            w.start("backing", "VirtualDiskRawDiskMappingVer1BackingInfo")
                    .text("fileName", s.fileName())
                    .text("deviceName", "/vmfs/devices/disks/naa." + s.uuid().replace("-", ""))
                    .text("lunUuid", s.uuid().replace("-", ""))
                    .text("compatibilityMode", "physicalMode")
                    .text("diskMode", s.mode().vsphereName())
                    .text("uuid", s.uuid());
        } else {
            w.start("backing", "VirtualDiskFlatVer2BackingInfo")
                    .text("fileName", s.fileName())
                    .text("diskMode", s.mode().vsphereName())
                    .text("thinProvisioned", s.thin())
                    .text("uuid", s.uuid());
            changeId.ifPresent(c -> w.text("changeId", c.toString()));
        }
        w.end();
        w.text("controllerKey", SCSI_CONTROLLER_KEY).text("unitNumber", unit)
                .text("capacityInKB", s.capacity() / 1024).text("capacityInBytes", s.capacity());
        w.end();
    }

    /** The snapshot tree: snapshots are a chain, each the child of the one before. */
    static void snapshotInfo(SoapWriter w, VirtualMachine vm) {
        List<Snapshot> all = vm.snapshots();
        w.mor("currentSnapshot", Inventory.snapshotMor(all.getLast()));
        tree(w, "rootSnapshotList", vm, all, 0);
    }

    private static void tree(SoapWriter w, String tag, VirtualMachine vm, List<Snapshot> chain, int i) {
        Snapshot s = chain.get(i);
        w.start(tag)
                .mor("snapshot", Inventory.snapshotMor(s))
                .mor("vm", Inventory.vmMor(vm))
                .text("name", s.name())
                .text("description", s.description())
                .text("id", s.moref().replaceAll("\\D", ""))
                .time("createTime", s.created())
                .text("state", vm.identity().powerState().vsphereName())
                .text("quiesced", s.quiesced());
        if (i + 1 < chain.size()) {
            tree(w, "childSnapshotList", vm, chain, i + 1);
        }
        w.end();
    }

    static void runtime(SoapWriter w, VirtualMachine vm) {
        w.text("connectionState", "connected").text("powerState", vm.identity().powerState().vsphereName());
    }

    static void guest(SoapWriter w, VirtualMachine vm) {
        w.text("toolsRunningStatus", "guestToolsRunning")
                .text("hostName", vm.guest().hostName())
                .text("ipAddress", vm.guest().ipAddress())
                .text("guestState", "running");
    }

    static void capability(SoapWriter w) {
        w.text("snapshotOperationsSupported", true)
                .text("multipleSnapshotsSupported", true)
                .text("memorySnapshotsSupported", true)
                .text("quiescedSnapshotsSupported", true)
                .text("changeTrackingSupported", true);
    }

    static void taskInfo(SoapWriter w, Tasks.Task t, Tasks.Info info) {
        w.text("key", t.mor().value())
                .mor("task", t.mor())
                .text("name", t.name())
                .text("descriptionId", t.descriptionId())
                .mor("entity", t.entity())
                .text("entityName", t.entityName())
                .text("state", info.state().name())
                .text("cancelled", false)
                .text("cancelable", false);
        info.error().ifPresent(e -> {
            w.start("error");
            fault(w, e);
            w.end();
        });
        info.result().ifPresent(r -> w.typedMor("result", r));
        if (info.state() == Tasks.State.running) {
            w.text("progress", info.progress());
        }
        w.start("reason", "TaskReasonUser").text("userName", "blockmover").end();
        w.time("queueTime", t.queueTime());
        info.startTime().ifPresent(s -> w.time("startTime", s));
        info.completeTime().ifPresent(c -> w.time("completeTime", c));
        w.text("eventChainId", t.mor().value().replaceAll("\\D", ""));
    }

    /** The fields of a LocalizedMethodFault. */
    static void fault(SoapWriter w, SdkFault f) {
        w.start("fault", f.faultType());
        f.field().ifPresent(field -> {
            if (field.morType().isPresent()) {
                w.mor(field.name(), new Mor(field.morType().get(), field.value()));
            } else {
                w.text(field.name(), field.value());
            }
        });
        w.end();
        w.text("localizedMessage", f.getMessage());
    }
}
