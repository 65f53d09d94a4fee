package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.ExportCatalog;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The host's disks as NBD exports (names in {@link ExportNames}): each live disk read-write,
 * each disk of each snapshot read-only. Always reflects the current inventory, so snapshots
 * appear and disappear as they are created and removed.
 */
public final class EsxCatalog implements ExportCatalog {
    private final EsxHost host;

    public EsxCatalog(EsxHost host) {
        this.host = host;
    }

    @Override
    public Optional<Export> find(String name) {
        Optional<ExportNames.Parsed> parsed = ExportNames.parse(name);
        if (parsed.isEmpty()) {
            return Optional.empty();
        }
        ExportNames.Parsed p = parsed.get();
        Optional<VirtualMachine> vm = host.vm(p.vm());
        if (vm.isEmpty()) {
            return Optional.empty();
        }
        if (p.snapshot().isEmpty()) {
            return vm.get().disk(p.deviceKey()).map(d -> live(vm.get(), d));
        }
        return vm.get().snapshot(p.snapshot().get())
                .flatMap(s -> s.disk(p.deviceKey()).map(d -> snapshot(vm.get(), s, d)));
    }

    @Override
    public List<Export> list() {
        List<Export> out = new ArrayList<>();
        for (VirtualMachine vm : host.vms()) {
            for (VirtualDisk d : vm.disks()) {
                out.add(live(vm, d));
            }
            for (Snapshot s : vm.snapshots()) {
                for (SnapshotDisk d : s.disks()) {
                    out.add(snapshot(vm, s, d));
                }
            }
        }
        return out;
    }

    private static Export live(VirtualMachine vm, VirtualDisk d) {
        return new Export(ExportNames.live(vm.name(), d.spec().deviceKey()),
                d.spec().fileName() + " (live, " + d.spec().mode().vsphereName() + ")", new LiveDiskDevice(d));
    }

    private static Export snapshot(VirtualMachine vm, Snapshot s, SnapshotDisk d) {
        return new Export(ExportNames.snapshot(vm.name(), d.spec().deviceKey(), s.name()),
                d.spec().fileName() + " (snapshot " + s.name() + ", changeId "
                        + d.changeId().map(ChangeId::toString).orElse("none") + ")",
                new SnapshotDiskDevice(vm, d));
    }
}
