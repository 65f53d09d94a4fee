package io.blockmover.mover.cli;

import io.blockmover.mover.vsphere.VcenterConnection;
import io.blockmover.mover.vsphere.VmSelector;
import io.blockmover.mover.vsphere.VsphereControl;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code cbt enable|reset --vm ...}: turn changed block tracking on, or reset it (the next backup is full). */
@Command(name = "cbt", mixinStandardHelpOptions = true,
        description = "Changed block tracking of a VM: enable, or reset (disable, stun, enable, stun; the next backup is full).")
final class CbtCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ACTION", description = "enable or reset")
    String action;

    @Option(names = "--vm", required = true, paramLabel = "SELECTOR",
            description = "name:, path:, ip:, dns:, uuid:, instance-uuid: or moref: and a value.")
    String vm;

    @Option(names = "--proxy-id", paramLabel = "ID", defaultValue = "default",
            description = "Marks the stun snapshots as this proxy's (default ${DEFAULT-VALUE}).")
    String proxyId;

    @Mixin
    VcenterOptions vcenter;

    @Override
    public Integer call() throws Exception {
        if (!action.equals("enable") && !action.equals("reset")) {
            throw new IllegalArgumentException("cbt wants enable or reset, not '" + action + "'");
        }
        VmSelector selector = VmSelector.parse(vm);
        try (VcenterConnection c = vcenter.connect()) {
            VsphereControl control = new VsphereControl(c, vcenter.retry());
            String moref = selector.resolve(c, control.inventory());
            if (action.equals("enable")) {
                control.setChangeTracking(moref, true);
                System.out.println("changed block tracking enabled on " + selector + " (" + moref + ")");
            } else {
                control.resetChangeTracking(moref, proxyId);
                System.out.println("changed block tracking reset on " + selector + " (" + moref + "); the next backup is full");
            }
        }
        return 0;
    }
}
