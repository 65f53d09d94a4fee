package io.blockmover.mover.cli;

import io.blockmover.index.repo.Repository;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.transport.vddk.TransportChoice;
import io.blockmover.mover.transport.vddk.VddkSettings;
import io.blockmover.mover.vsphere.NbdSnapshotTransport;
import io.blockmover.mover.vsphere.SnapshotTransport;
import io.blockmover.mover.vsphere.SnapshotPolicy;
import io.blockmover.mover.vsphere.VcenterConnection;
import io.blockmover.mover.vsphere.VcenterEndpoint;
import io.blockmover.mover.vsphere.VddkSnapshotTransport;
import io.blockmover.mover.vsphere.VmSelector;
import io.blockmover.mover.vsphere.VsphereBackup;
import io.blockmover.mover.vsphere.VsphereControl;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code backup --vcenter ... --vm ...}: the whole job through vCenter, with the options of {@link BackupCommand}. */
final class VcenterBackupRun implements Callable<Integer> {
    private final BackupCommand options;

    VcenterBackupRun(BackupCommand options) {
        this.options = options;
    }

    @Override
    public Integer call() throws Exception {
        if (!options.sources.isEmpty()) {
            throw new IllegalArgumentException("give --source or --vcenter, not both");
        }
        if (options.vmSelector == null) {
            throw new IllegalArgumentException("--vcenter needs --vm SELECTOR (e.g. name:web01)");
        }
        if (options.verifySample != null) {
            throw new IllegalArgumentException("--verify-sample is not available with --vcenter yet");
        }
        VsphereBackup.Request request = new VsphereBackup.Request(VmSelector.parse(options.vmSelector), options.jobMode(),
                SnapshotPolicy.parse(options.snapshotPolicy), Optional.ofNullable(options.snapshotName),
                preexisting(options.preexisting), options.quiesce, options.proxyId, options.label);
        VcenterEndpoint endpoint = options.vcenter.endpoint();
        String template = options.nbdTemplate != null ? options.nbdTemplate
                : NbdSnapshotTransport.emulatedHostTemplate(endpoint.url());
        NbdAccess nbd = options.connection.access(options.pipeline.connections);
        NbdSnapshotTransport overNbd = new NbdSnapshotTransport(template, nbd);
        VddkSettings vddk = options.vddk.settings();
        SnapshotTransport transport = vddk.choice() == TransportChoice.NBD ? overNbd
                : new VddkSnapshotTransport(endpoint.url().getHost(), options.vddkNfcPort, endpoint.user(), endpoint.password(),
                        vddk, overNbd);
        try (Repository repo = options.repository.open();
             VcenterConnection c = VcenterConnection.open(endpoint);
             Interruption interruption = new Interruption();
             ProgressDisplay display = options.progress.display(options.output.json)) {
            VsphereBackup.Result r = new VsphereBackup(new VsphereControl(c, options.vcenter.retry()),
                    transport, repo, options.pipeline.settings())
                    .run(request, interruption.cancellation(), (disk, counters) -> display.track(disk, counters));
            display.close();
            if (options.output.json) {
                Map<String, Object> m = new java.util.LinkedHashMap<>(BackupCommand.toJson(r.vm().name(), r.outcome()));
                m.put("moref", r.vm().moref());
                m.put("snapshot", r.snapshot());
                m.put("snapshotRemoved", r.snapshotRemoved());
                m.put("warnings", r.warnings());
                System.out.println(JsonWriter.write(m));
            } else {
                BackupCommand.printSummary(r.vm().name(), r.outcome());
                System.out.printf(Locale.ROOT, "  snapshot %s %s%n", r.snapshot(), r.snapshotRemoved() ? "removed" : "kept");
                r.warnings().forEach(w -> System.out.println("  warning: " + w));
            }
        }
        return 0;
    }

    static VsphereBackup.Preexisting preexisting(String text) {
        return switch (text.toLowerCase(Locale.ROOT)) {
            case "fail" -> VsphereBackup.Preexisting.FAIL;
            case "delete" -> VsphereBackup.Preexisting.DELETE;
            default -> throw new IllegalArgumentException("--preexisting wants fail or delete, not '" + text + "'");
        };
    }
}
