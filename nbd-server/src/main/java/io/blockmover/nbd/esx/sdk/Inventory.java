package io.blockmover.nbd.esx.sdk;

import io.blockmover.nbd.esx.EsxHost;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.VirtualMachine;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The emulated host's objects as vCenter names them: one datacenter whose VM folder holds every
 * VM of the {@link EsxHost}, VM snapshots by their morefs, and the service objects. The inventory
 * path of a VM is {@code Datacenter/vm/<name>}.
 */
final class Inventory {
    static final String DATACENTER_NAME = "Datacenter";

    /** Every managed object type this host has and what it is a kind of (vSphere's type hierarchy). */
    private static final Map<String, List<String>> KINDS = Map.ofEntries(
            Map.entry("Folder", List.of("Folder", "ManagedEntity", "ExtensibleManagedObject", "ManagedObject")),
            Map.entry("Datacenter", List.of("Datacenter", "ManagedEntity", "ExtensibleManagedObject", "ManagedObject")),
            Map.entry("VirtualMachine", List.of("VirtualMachine", "ManagedEntity", "ExtensibleManagedObject", "ManagedObject")),
            Map.entry("VirtualMachineSnapshot", List.of("VirtualMachineSnapshot", "ExtensibleManagedObject", "ManagedObject")),
            Map.entry("Task", List.of("Task", "ExtensibleManagedObject", "ManagedObject")),
            Map.entry("ServiceInstance", List.of("ServiceInstance", "ManagedObject")),
            Map.entry("PropertyCollector", List.of("PropertyCollector", "ManagedObject")),
            Map.entry("SearchIndex", List.of("SearchIndex", "ManagedObject")),
            Map.entry("SessionManager", List.of("SessionManager", "ManagedObject")),
            Map.entry("TaskManager", List.of("TaskManager", "ManagedObject")));

    /** A snapshot and the VM it belongs to. */
    record SnapshotRef(VirtualMachine vm, Snapshot snapshot) {}

    private final EsxHost host;

    Inventory(EsxHost host) {
        this.host = host;
    }

    EsxHost host() {
        return host;
    }

    /** Whether an object of type {@code actual} is a {@code kind} (e.g. a VirtualMachine is a ManagedEntity). */
    static boolean isA(String actual, String kind) {
        return KINDS.getOrDefault(actual, List.of(actual)).contains(kind);
    }

    static Mor vmMor(VirtualMachine vm) {
        return new Mor("VirtualMachine", vm.identity().moref());
    }

    static Mor snapshotMor(Snapshot s) {
        return new Mor("VirtualMachineSnapshot", s.moref());
    }

    Optional<VirtualMachine> vm(Mor mor) {
        if (!mor.type().equals("VirtualMachine")) {
            return Optional.empty();
        }
        return host.vms().stream().filter(v -> v.identity().moref().equals(mor.value())).findFirst();
    }

    VirtualMachine requireVm(Mor mor) throws SdkFault {
        return vm(mor).orElseThrow(() -> SdkFault.notFound(mor));
    }

    Optional<SnapshotRef> snapshot(Mor mor) {
        if (!mor.type().equals("VirtualMachineSnapshot")) {
            return Optional.empty();
        }
        for (VirtualMachine vm : host.vms()) {
            for (Snapshot s : vm.snapshots()) {
                if (s.moref().equals(mor.value())) {
                    return Optional.of(new SnapshotRef(vm, s));
                }
            }
        }
        return Optional.empty();
    }

    SnapshotRef requireSnapshot(Mor mor) throws SdkFault {
        return snapshot(mor).orElseThrow(() -> SdkFault.notFound(mor));
    }

    /** The folders and the datacenter, by reference. */
    static Optional<String> containerName(Mor mor) {
        if (mor.equals(Mor.ROOT_FOLDER)) {
            return Optional.of("Datacenters");
        } else if (mor.equals(Mor.DATACENTER)) {
            return Optional.of(DATACENTER_NAME);
        } else if (mor.equals(Mor.VM_FOLDER)) {
            return Optional.of("vm");
        } else if (mor.equals(Mor.HOST_FOLDER)) {
            return Optional.of("host");
        } else if (mor.equals(Mor.DATASTORE_FOLDER)) {
            return Optional.of("datastore");
        } else if (mor.equals(Mor.NETWORK_FOLDER)) {
            return Optional.of("network");
        }
        return Optional.empty();
    }

    /** The object an inventory path such as {@code Datacenter/vm/web01} names. */
    Optional<Mor> byInventoryPath(String path) {
        String p = path.startsWith("/") ? path.substring(1) : path;
        if (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        String dc = DATACENTER_NAME;
        if (p.equals(dc)) {
            return Optional.of(Mor.DATACENTER);
        }
        for (Mor folder : List.of(Mor.VM_FOLDER, Mor.HOST_FOLDER, Mor.DATASTORE_FOLDER, Mor.NETWORK_FOLDER)) {
            if (p.equals(dc + "/" + containerName(folder).orElseThrow())) {
                return Optional.of(folder);
            }
        }
        String prefix = dc + "/vm/";
        if (p.startsWith(prefix)) {
            String name = p.substring(prefix.length());
            return host.vm(name).map(Inventory::vmMor);
        }
        return Optional.empty();
    }

    /** Whether the object exists now. */
    boolean exists(Mor mor) {
        return containerName(mor).isPresent() || vm(mor).isPresent() || snapshot(mor).isPresent()
                || mor.type().equals("Task") || KINDS.containsKey(mor.type()) && isServiceObject(mor);
    }

    private static boolean isServiceObject(Mor mor) {
        return List.of(Mor.SERVICE_INSTANCE, Mor.PROPERTY_COLLECTOR, Mor.SEARCH_INDEX, Mor.SESSION_MANAGER,
                Mor.TASK_MANAGER).contains(mor);
    }
}
