package io.blockmover.mover.vsphere;

import io.blockmover.mover.transport.TransportSelection;
import io.blockmover.mover.transport.TransportUsed;
import io.blockmover.mover.transport.nbd.NbdAccess;

import java.io.IOException;
import java.net.URI;
import java.util.List;

/**
 * Snapshot disks over NBD, at the URI a template names: the emulated host serves
 * {@code nbd://HOST:10809/{vm}/disk-{key}@{snapshot}}; a real deployment points the template at
 * its own NBD servers, e.g. nbdkit's vddk plugin: {@code nbd+unix:///?socket=/run/vddk/{vm}-{key}.sock}.
 * Placeholders: {vm} {moref} {key} {snapshot} {snapshot-moref} {file} (URL-unsafe characters are the template's job).
 */
public record NbdSnapshotTransport(String template, NbdAccess nbd) implements SnapshotTransport {
    /** The emulated host's snapshot exports on the vCenter host's NBD port. */
    public static String emulatedHostTemplate(URI vcenter) {
        return "nbd://" + vcenter.getHost() + ":10809/{vm}/disk-{key}@{snapshot}";
    }

    public NbdSnapshotTransport {
        if (!template.contains("{")) {
            throw new IllegalArgumentException("--nbd-template names no disk ({vm}, {key}, {snapshot}, ...): " + template);
        }
    }

    String uri(VmInfo vm, VmInfo.SnapshotInfo snapshot, VmInfo.Disk disk) {
        return template.replace("{vm}", vm.name()).replace("{moref}", vm.moref())
                .replace("{key}", Integer.toString(disk.deviceKey())).replace("{snapshot}", snapshot.name())
                .replace("{snapshot-moref}", snapshot.moref()).replace("{file}", disk.fileName());
    }

    @Override
    public TransportSelection.Opened open(VmInfo vm, VmInfo.SnapshotInfo snapshot, VmInfo.Disk disk) throws IOException {
        return new TransportSelection.Opened(nbd.openSource(uri(vm, snapshot, disk), List.of()), TransportUsed.NBD);
    }
}
