package io.blockmover.nbd.esx.sdk;

import io.blockmover.nbd.units.ByteRange;
import io.blockmover.nbd.esx.ChangeIdFault;
import io.blockmover.nbd.esx.ChangedAreas;
import io.blockmover.nbd.esx.EsxFaults;
import io.blockmover.nbd.esx.EsxHost;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.esx.VirtualDisk;
import io.blockmover.nbd.esx.VirtualMachine;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * The vSphere methods the emulated host answers: one call in (the method element of a SOAP
 * body), one answer out, over the same {@link EsxHost} the NBD exports serve.
 */
final class VimService implements AutoCloseable {
    /** What a call produced: the answer's bytes and, for Login, the session to hand out as a cookie. */
    record Answer(byte[] body, Optional<Sessions.Session> newSession) {}

    private final Inventory inventory;
    private final Sessions sessions;
    private final EsxFaults faults;
    private final Tasks tasks = new Tasks();
    private final Properties properties;
    private final PropertyCollector collector;
    private final long changedAreasPage;
    private final String instanceUuid;

    /** @param changedAreasPage at most this many bytes of the disk per QueryChangedDiskAreas answer */
    VimService(EsxHost host, Sessions sessions, EsxFaults faults, long changedAreasPage) {
        this.inventory = new Inventory(host);
        this.sessions = sessions;
        this.faults = faults;
        this.properties = new Properties(inventory, tasks);
        this.collector = new PropertyCollector(inventory, properties);
        this.changedAreasPage = changedAreasPage;
        this.instanceUuid = new java.util.UUID(host.seed(), 0x5344_4b00L).toString();
    }

    Answer call(XmlNode method, Optional<String> cookie) throws SdkFault {
        String name = method.name();
        switch (name) {
            case "RetrieveServiceContent" -> {
                return answer(serviceContent());
            }
            case "Login" -> {
                Sessions.Session s = sessions.login(method.requireText("userName"), method.requireText("password"));
                SoapWriter w = SoapWriter.response(name).start("returnval");
                Vim.userSession(w, s);
                return new Answer(w.finish(), Optional.of(s));
            }
            default -> {
                // every other call needs a session
            }
        }
        Sessions.Session session = sessions.require(cookie);
        Mor self = method.require("_this").mor();
        return answer(switch (name) {
            case "Logout" -> {
                sessions.logout(session);
                yield SoapWriter.response(name);
            }
            case "CurrentTime" -> SoapWriter.response(name).time("returnval", java.time.Instant.now());
            case "RetrieveProperties" -> {
                SoapWriter w = SoapWriter.response(name);
                objects(w, "returnval", collector.retrieve(method.all("specSet"), Optional.of(session)));
                yield w;
            }
            case "RetrievePropertiesEx" -> {
                long max = method.child("options").map(o -> o.text("maxObjects").map(Long::parseLong).orElse(0L)).orElse(0L);
                yield result(name, collector.first(collector.retrieve(method.all("specSet"), Optional.of(session)), max));
            }
            case "ContinueRetrievePropertiesEx" -> result(name, collector.next(method.requireText("token")));
            case "CancelRetrievePropertiesEx" -> {
                collector.cancel(method.requireText("token"));
                yield SoapWriter.response(name);
            }
            case "FindByUuid", "FindAllByUuid" -> {
                String uuid = method.requireText("uuid");
                boolean instance = method.bool("instanceUuid", false);
                yield found(name, method, vm -> (instance ? vm.identity().instanceUuid() : vm.identity().uuid())
                        .equalsIgnoreCase(uuid));
            }
            case "FindByIp", "FindAllByIp" -> {
                String ip = method.requireText("ip");
                yield found(name, method, vm -> vm.guest().ipAddress().equals(ip));
            }
            case "FindByDnsName", "FindAllByDnsName" -> {
                String dns = method.requireText("dnsName");
                yield found(name, method, vm -> vm.guest().hostName().equalsIgnoreCase(dns));
            }
            case "FindByInventoryPath" -> {
                SoapWriter w = SoapWriter.response(name);
                inventory.byInventoryPath(method.requireText("inventoryPath")).ifPresent(m -> w.mor("returnval", m));
                yield w;
            }
            case "CreateSnapshot_Task" -> task(name, createSnapshot(method, inventory.requireVm(self)));
            case "RemoveSnapshot_Task" -> task(name, removeSnapshot(inventory.requireSnapshot(self)));
            case "ReconfigVM_Task" -> task(name, reconfigure(method, inventory.requireVm(self)));
            case "QueryChangedDiskAreas" -> changedAreas(method, inventory.requireVm(self));
            default -> throw SdkFault.notSupported("method " + name);
        });
    }

    private static Answer answer(SoapWriter w) {
        return new Answer(w.finish(), Optional.empty());
    }

    private SoapWriter serviceContent() {
        SoapWriter w = SoapWriter.response("RetrieveServiceContent").start("returnval")
                .mor("rootFolder", Mor.ROOT_FOLDER)
                .mor("propertyCollector", Mor.PROPERTY_COLLECTOR);
        w.start("about");
        Vim.about(w, instanceUuid);
        w.end();
        return w.mor("sessionManager", Mor.SESSION_MANAGER)
                .mor("taskManager", Mor.TASK_MANAGER)
                .mor("searchIndex", Mor.SEARCH_INDEX);
    }

    private static void objects(SoapWriter w, String tag, List<PropertyCollector.ObjectContent> objects) {
        for (PropertyCollector.ObjectContent oc : objects) {
            w.start(tag).mor("obj", oc.obj());
            for (var p : oc.props()) {
                w.start("propSet").text("name", p.getKey());
                p.getValue().write(w, "val");
                w.end();
            }
            w.end();
        }
    }

    private static SoapWriter result(String method, PropertyCollector.Page page) {
        SoapWriter w = SoapWriter.response(method);
        if (page.objects().isEmpty() && page.token().isEmpty()) {
            return w; // vCenter answers an empty result with no returnval at all
        }
        w.start("returnval");
        page.token().ifPresent(t -> w.text("token", t));
        objects(w, "objects", page.objects());
        return w.end();
    }

    /** SearchIndex: VMs only (vmSearch=false asks for hosts, of which there are none here). */
    private SoapWriter found(String method, XmlNode call, Predicate<VirtualMachine> match) {
        SoapWriter w = SoapWriter.response(method);
        if (!call.bool("vmSearch", true)) {
            return w;
        }
        List<VirtualMachine> vms = inventory.host().vms().stream().filter(match).toList();
        for (VirtualMachine vm : method.startsWith("FindAll") ? vms : vms.stream().limit(1).toList()) {
            w.mor("returnval", Inventory.vmMor(vm));
        }
        return w;
    }

    private SoapWriter task(String method, Tasks.Task t) {
        return SoapWriter.response(method).mor("returnval", t.mor());
    }

    private Tasks.Task createSnapshot(XmlNode call, VirtualMachine vm) throws SdkFault {
        String name = call.requireText("name");
        String description = call.text("description").orElse("");
        boolean memory = call.bool("memory", false);
        boolean quiesce = call.bool("quiesce", false);
        return tasks.start("CreateSnapshot_Task", "VirtualMachine.createSnapshot", Inventory.vmMor(vm), vm.name(),
                faults.takeBusy(), t -> {
                    injectedFailure("CreateSnapshot_Task");
                    t.progress(50);
                    try {
                        return Optional.of(Inventory.snapshotMor(vm.createSnapshot(name, description, memory, quiesce)));
                    } catch (IllegalArgumentException e) {
                        throw SdkFault.invalidArgument("name");
                    }
                });
    }

    private Tasks.Task removeSnapshot(Inventory.SnapshotRef ref) throws SdkFault {
        VirtualMachine vm = ref.vm();
        return tasks.start("RemoveSnapshot_Task", "VirtualMachineSnapshot.remove", Inventory.vmMor(vm), vm.name(),
                faults.takeBusy(), t -> {
                    injectedFailure("RemoveSnapshot_Task");
                    t.progress(50);
                    try {
                        vm.removeSnapshot(ref.snapshot().name());
                    } catch (IllegalArgumentException e) {
                        throw SdkFault.notFound(Inventory.snapshotMor(ref.snapshot()));
                    }
                    return Optional.empty();
                });
    }

    /**
     * Only {@code changeTrackingEnabled} is emulated; any other change is refused rather than
     * ignored. A field at 0 or false changes nothing: clients such as yavijava send every
     * primitive field of the spec (e.g. {@code npivDesiredNodeWwns=0}) whether set or not.
     */
    private Tasks.Task reconfigure(XmlNode call, VirtualMachine vm) throws SdkFault {
        XmlNode spec = call.require("spec");
        for (XmlNode field : spec.children()) {
            boolean unset = field.children().isEmpty() && (field.text().equals("0") || field.text().equals("false"));
            if (!field.name().equals("changeTrackingEnabled") && !unset) {
                throw SdkFault.notSupported("changing " + field.name());
            }
        }
        Optional<Boolean> cbt = spec.text("changeTrackingEnabled").map(Boolean::parseBoolean);
        return tasks.start("ReconfigVM_Task", "VirtualMachine.reconfigure", Inventory.vmMor(vm), vm.name(),
                faults.takeBusy(), t -> {
                    injectedFailure("ReconfigVM_Task");
                    cbt.ifPresent(on -> {
                        if (on) {
                            vm.enableCbt();
                        } else {
                            vm.disableCbt();
                        }
                    });
                    return Optional.empty();
                });
    }

    private void injectedFailure(String method) throws SdkFault {
        if (faults.takeTaskFailure(method)) {
            throw SdkFault.systemError("injected failure of " + method);
        }
    }

    /**
     * QueryChangedDiskAreas of a snapshot's disk. Each answer covers at most
     * {@code changedAreasPage} bytes from {@code startOffset}; the caller asks again from
     * {@code startOffset + length} until it reaches the capacity, as on vCenter.
     */
    private SoapWriter changedAreas(XmlNode call, VirtualMachine vm) throws SdkFault {
        XmlNode snapNode = call.child("snapshot").orElseThrow(() -> SdkFault.invalidArgument("snapshot"));
        Inventory.SnapshotRef ref = inventory.requireSnapshot(snapNode.mor());
        if (ref.vm() != vm) {
            throw SdkFault.invalidArgument("snapshot");
        }
        int deviceKey = (int) call.number("deviceKey", -1);
        long start = call.number("startOffset", -1);
        String changeId = call.requireText("changeId");
        Snapshot snapshot = ref.snapshot();
        VirtualDisk live = vm.disk(deviceKey).orElseThrow(() -> SdkFault.invalidArgument("deviceKey"));
        SnapshotDisk disk = snapshot.disk(deviceKey).orElseThrow(() -> SdkFault.fileFault(live.spec().fileName(),
                "Error caused by file " + live.spec().fileName() + ": the disk is not part of the snapshot"
                        + " (independent disk or physical RDM); it has no changed block tracking"));
        if (start < 0 || start >= disk.capacity()) {
            throw SdkFault.invalidArgument("startOffset");
        }
        ChangedAreas areas;
        try {
            areas = disk.changedAreas(changeId, start);
        } catch (ChangeIdFault e) {
            throw SdkFault.fileFault(live.spec().fileName(), "Error caused by file " + live.spec().fileName()
                    + ": " + e.getMessage());
        }
        long length = Math.min(areas.length(), changedAreasPage);
        long end = start + length;
        SoapWriter w = SoapWriter.response("QueryChangedDiskAreas").start("returnval")
                .text("startOffset", start).text("length", length);
        List<ByteRange> clipped = new ArrayList<>();
        for (ByteRange r : areas.areas()) {
            if (r.offset() >= end) {
                break;
            }
            clipped.add(new ByteRange(r.offset(), Math.min(r.end(), end) - r.offset()));
        }
        for (ByteRange r : clipped) {
            w.start("changedArea").text("start", r.offset()).text("length", r.length()).end();
        }
        return w.end();
    }

    @Override
    public void close() {
        tasks.close();
    }
}
