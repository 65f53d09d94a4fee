package io.blockmover.nbd.esx.sdk;

import io.blockmover.nbd.esx.ChangeId;
import io.blockmover.nbd.esx.DiskSpec;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.esx.VirtualDisk;
import io.blockmover.nbd.esx.VirtualMachine;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The properties of every object, by property path, as the PropertyCollector hands them out.
 * Only what a backup client reads is here; asking for another path answers InvalidProperty,
 * so a client never mistakes a missing emulation for an unset value.
 */
final class Properties {
    /** What {@code all = true} returns per type: the top-level properties emulated. */
    private static final Map<String, List<String>> ALL = Map.of(
            "Folder", List.of("name", "parent", "childEntity"),
            "Datacenter", List.of("name", "parent", "vmFolder", "hostFolder", "datastoreFolder", "networkFolder"),
            "VirtualMachine", List.of("name", "parent", "config", "snapshot", "runtime", "guest", "capability"),
            "VirtualMachineSnapshot", List.of("config", "vm"),
            "Task", List.of("info"),
            "SessionManager", List.of("currentSession"));

    private final Inventory inventory;
    private final Tasks tasks;

    Properties(Inventory inventory, Tasks tasks) {
        this.inventory = inventory;
        this.tasks = tasks;
    }

    static List<String> all(String type) {
        return ALL.getOrDefault(type, List.of());
    }

    /**
     * The value of {@code path} on {@code obj}: empty when unset (e.g. {@code snapshot} of a VM
     * without snapshots); ManagedObjectNotFound for an object that is gone; InvalidProperty for
     * a path not emulated.
     */
    Optional<Value> get(Mor obj, String path, Optional<Sessions.Session> session) throws SdkFault {
        switch (obj.type()) {
            case "Folder", "Datacenter" -> {
                return container(obj, path);
            }
            case "VirtualMachine" -> {
                return vm(inventory.requireVm(obj), path);
            }
            case "VirtualMachineSnapshot" -> {
                Inventory.SnapshotRef s = inventory.requireSnapshot(obj);
                return switch (path) {
                    case "config" -> Optional.of(new Value.Data("VirtualMachineConfigInfo",
                            w -> Vim.config(w, s.vm(), Optional.of(s.snapshot()))));
                    case "config.hardware.device" -> Optional.of(new Value.Data("ArrayOfVirtualDevice",
                            w -> Vim.devices(w, "VirtualDevice", s.vm(), Optional.of(s.snapshot()))));
                    case "vm" -> Optional.of(new Value.Ref(Inventory.vmMor(s.vm())));
                    case "childSnapshot" -> Optional.of(new Value.Refs(children(s)));
                    default -> throw SdkFault.invalidProperty(path);
                };
            }
            case "Task" -> {
                Tasks.Task t = tasks.find(obj.value()).orElseThrow(() -> SdkFault.notFound(obj));
                Tasks.Info info = t.info();
                return switch (path) {
                    case "info" -> Optional.of(new Value.Data("TaskInfo", w -> Vim.taskInfo(w, t, info)));
                    case "info.state" -> Optional.of(new Value.Simple("TaskInfoState", info.state().name()));
                    case "info.progress" -> Optional.of(new Value.Simple("xsd:int", info.progress()));
                    case "info.result" -> info.result().map(Value.Ref::new);
                    case "info.error" -> info.error().map(e -> new Value.Data("LocalizedMethodFault", w -> Vim.fault(w, e)));
                    default -> throw SdkFault.invalidProperty(path);
                };
            }
            case "SessionManager" -> {
                if (!path.equals("currentSession")) {
                    throw SdkFault.invalidProperty(path);
                }
                return session.map(s -> new Value.Data("UserSession", w -> Vim.userSession(w, s)));
            }
            default -> throw SdkFault.invalidProperty(path);
        }
    }

    private List<Mor> children(Inventory.SnapshotRef s) {
        List<Snapshot> all = s.vm().snapshots();
        int i = all.indexOf(s.snapshot());
        return i + 1 < all.size() ? List.of(Inventory.snapshotMor(all.get(i + 1))) : List.of();
    }

    private Optional<Value> container(Mor obj, String path) throws SdkFault {
        String name = Inventory.containerName(obj).orElseThrow(() -> SdkFault.notFound(obj));
        if (path.equals("name")) {
            return Optional.of(Value.Simple.string(name));
        }
        if (obj.equals(Mor.DATACENTER)) {
            return switch (path) {
                case "parent" -> Optional.of(new Value.Ref(Mor.ROOT_FOLDER));
                case "vmFolder" -> Optional.of(new Value.Ref(Mor.VM_FOLDER));
                case "hostFolder" -> Optional.of(new Value.Ref(Mor.HOST_FOLDER));
                case "datastoreFolder" -> Optional.of(new Value.Ref(Mor.DATASTORE_FOLDER));
                case "networkFolder" -> Optional.of(new Value.Ref(Mor.NETWORK_FOLDER));
                default -> throw SdkFault.invalidProperty(path);
            };
        }
        return switch (path) {
            case "parent" -> obj.equals(Mor.ROOT_FOLDER) ? Optional.empty() : Optional.of(new Value.Ref(Mor.DATACENTER));
            case "childEntity" -> {
                if (obj.equals(Mor.ROOT_FOLDER)) {
                    yield Optional.of(new Value.Refs(List.of(Mor.DATACENTER)));
                } else if (obj.equals(Mor.VM_FOLDER)) {
                    yield Optional.of(new Value.Refs(inventory.host().vms().stream().map(Inventory::vmMor).toList()));
                }
                yield Optional.of(new Value.Refs(List.of()));
            }
            default -> throw SdkFault.invalidProperty(path);
        };
    }

    private Optional<Value> vm(VirtualMachine vm, String path) throws SdkFault {
        return switch (path) {
            case "name", "config.name" -> Optional.of(Value.Simple.string(vm.name()));
            case "parent" -> Optional.of(new Value.Ref(Mor.VM_FOLDER));
            case "config" -> Optional.of(new Value.Data("VirtualMachineConfigInfo", w -> Vim.config(w, vm, Optional.empty())));
            case "config.uuid" -> Optional.of(Value.Simple.string(vm.identity().uuid()));
            case "config.instanceUuid" -> Optional.of(Value.Simple.string(vm.identity().instanceUuid()));
            case "config.changeTrackingEnabled" -> Optional.of(Value.Simple.bool(vm.cbtEnabled()));
            case "config.hardware.device" -> Optional.of(new Value.Data("ArrayOfVirtualDevice",
                    w -> Vim.devices(w, "VirtualDevice", vm, Optional.empty())));
            case "snapshot" -> vm.snapshots().isEmpty() ? Optional.empty()
                    : Optional.of(new Value.Data("VirtualMachineSnapshotInfo", w -> Vim.snapshotInfo(w, vm)));
            case "snapshot.currentSnapshot" -> vm.snapshots().isEmpty() ? Optional.empty()
                    : Optional.of(new Value.Ref(Inventory.snapshotMor(vm.snapshots().getLast())));
            case "runtime" -> Optional.of(new Value.Data("VirtualMachineRuntimeInfo", w -> Vim.runtime(w, vm)));
            case "runtime.powerState" -> Optional.of(new Value.Simple("VirtualMachinePowerState",
                    vm.identity().powerState().vsphereName()));
            case "guest" -> Optional.of(new Value.Data("GuestInfo", w -> Vim.guest(w, vm)));
            case "guest.ipAddress" -> Optional.of(Value.Simple.string(vm.guest().ipAddress()));
            case "guest.hostName" -> Optional.of(Value.Simple.string(vm.guest().hostName()));
            case "capability" -> Optional.of(new Value.Data("VirtualMachineCapability", Vim::capability));
            case "capability.changeTrackingSupported" -> Optional.of(Value.Simple.bool(true));
            default -> throw SdkFault.invalidProperty(path);
        };
    }

    /** The changeId a device shows: the snapshot's for a disk it froze, else the live disk's. */
    static Optional<ChangeId> changeId(VirtualDisk disk, Optional<Snapshot> snapshot) {
        DiskSpec spec = disk.spec();
        if (snapshot.isPresent()) {
            Optional<SnapshotDisk> frozen = snapshot.get().disk(spec.deviceKey());
            if (frozen.isPresent()) {
                return frozen.get().changeId();
            }
        }
        return disk.liveChangeId();
    }
}
