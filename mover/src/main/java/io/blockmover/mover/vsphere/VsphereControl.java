package io.blockmover.mover.vsphere;

import com.vmware.vim25.DiskChangeExtent;
import com.vmware.vim25.DiskChangeInfo;
import com.vmware.vim25.FileFault;
import com.vmware.vim25.ManagedObjectReference;
import com.vmware.vim25.VirtualMachineConfigSpec;
import com.vmware.vim25.mo.VirtualMachine;
import com.vmware.vim25.mo.VirtualMachineSnapshot;
import io.blockmover.nbd.units.ByteRange;

import java.rmi.RemoteException;
import java.util.ArrayList;
import java.util.List;

/**
 * The VM operations of a backup proxy: snapshots (marked as this proxy's, so a restarted
 * service can find and remove its leftovers), changed block tracking, and changed areas.
 */
public final class VsphereControl {
    /** Every snapshot this proxy makes has a description starting with this, then the proxy id. */
    public static final String MARKER = "blockmover-proxy:";

    private final VcenterConnection connection;
    private final VsphereTasks tasks;
    private final VmInventory inventory;

    public VsphereControl(VcenterConnection connection, BusyRetry retry) {
        this.connection = connection;
        this.tasks = new VsphereTasks(connection, retry);
        this.inventory = new VmInventory(connection);
    }

    public VcenterConnection connection() {
        return connection;
    }

    public VmInventory inventory() {
        return inventory;
    }

    public static String description(String proxyId, String job) {
        return MARKER + proxyId + " " + job;
    }

    /** Creates a snapshot and returns its moref. */
    public String createSnapshot(String vmMoref, String name, String description, boolean quiesce)
            throws VsphereException, RemoteException, InterruptedException {
        Object result = tasks.run("snapshot " + name + " of " + vmMoref,
                si -> vm(si, vmMoref).createSnapshot_Task(name, description, false, quiesce))
                .orElseThrow(() -> new VsphereException("snapshot " + name + " of " + vmMoref + " answered no snapshot"));
        return ((ManagedObjectReference) result).get_value();
    }

    /** Removes one snapshot (not its children), consolidating its disks. */
    public void removeSnapshot(String snapshotMoref) throws VsphereException, RemoteException, InterruptedException {
        tasks.run("removing snapshot " + snapshotMoref, si -> new VirtualMachineSnapshot(si.getServerConnection(),
                VmInventory.mor("VirtualMachineSnapshot", snapshotMoref)).removeSnapshot_Task(false, Boolean.TRUE));
    }

    /** This proxy's snapshots on the VM, left by an earlier run (found by the description marker). */
    public List<VmInfo.SnapshotInfo> leftovers(String vmMoref, String proxyId) throws VsphereException, RemoteException {
        return leftovers(inventory.get(vmMoref), proxyId);
    }

    /** This proxy's snapshots among those of a VM just read. */
    public static List<VmInfo.SnapshotInfo> leftovers(VmInfo vm, String proxyId) {
        return vm.snapshots().stream().filter(s -> s.description().startsWith(MARKER + proxyId + " ")).toList();
    }

    /** Removes this proxy's leftover snapshots; returns what it removed. */
    public List<VmInfo.SnapshotInfo> removeLeftovers(String vmMoref, String proxyId)
            throws VsphereException, RemoteException, InterruptedException {
        List<VmInfo.SnapshotInfo> found = leftovers(vmMoref, proxyId);
        for (VmInfo.SnapshotInfo s : found) {
            removeSnapshot(s.moref());
        }
        return found;
    }

    public void setChangeTracking(String vmMoref, boolean enabled) throws VsphereException, RemoteException, InterruptedException {
        VirtualMachineConfigSpec spec = new VirtualMachineConfigSpec();
        spec.setChangeTrackingEnabled(enabled);
        tasks.run((enabled ? "enabling" : "disabling") + " changed block tracking on " + vmMoref,
                si -> vm(si, vmMoref).reconfigVM_Task(spec));
    }

    /**
     * Resets CBT: disable, a snapshot create/remove stun cycle, enable, and another cycle, so
     * every changeId so far is invalid and the next backup is full (vmPRO practice). Refused
     * while the VM has snapshots, as VMware's reset procedure requires.
     */
    public void resetChangeTracking(String vmMoref, String proxyId) throws VsphereException, RemoteException, InterruptedException {
        if (!inventory.get(vmMoref).snapshots().isEmpty()) {
            throw new VsphereException("cannot reset changed block tracking of " + vmMoref
                    + ": it has snapshots; remove them first");
        }
        setChangeTracking(vmMoref, false);
        stun(vmMoref, proxyId);
        setChangeTracking(vmMoref, true);
        stun(vmMoref, proxyId);
    }

    private void stun(String vmMoref, String proxyId) throws VsphereException, RemoteException, InterruptedException {
        String snap = createSnapshot(vmMoref, "blockmover-cbt-reset", description(proxyId, "cbt-reset"), false);
        removeSnapshot(snap);
    }

    /**
     * The areas of a snapshot's disk changed since {@code changeId} ({@code "*"}: the allocated
     * areas), asking QueryChangedDiskAreas again from where each answer ends until the whole
     * capacity is covered. A refused changeId throws FileFault for the caller to fall back on.
     */
    public List<ByteRange> changedAreas(String vmMoref, String snapshotMoref, int deviceKey, long capacity, String changeId)
            throws FileFault, VsphereException, RemoteException {
        List<ByteRange> out = new ArrayList<>();
        long offset = 0;
        while (offset < capacity) {
            long from = offset;
            DiskChangeInfo info = connection.call(si -> vm(si, vmMoref).queryChangedDiskAreas(
                    new VirtualMachineSnapshot(si.getServerConnection(), VmInventory.mor("VirtualMachineSnapshot", snapshotMoref)),
                    deviceKey, from, changeId));
            if (info.getChangedArea() != null) {
                for (DiskChangeExtent e : info.getChangedArea()) {
                    out.add(new ByteRange(e.getStart(), e.getLength()));
                }
            }
            long next = info.getStartOffset() + info.getLength();
            if (next <= offset) {
                throw new VsphereException("QueryChangedDiskAreas of disk " + deviceKey + " made no progress at offset " + offset);
            }
            offset = next;
        }
        return out;
    }

    private static VirtualMachine vm(com.vmware.vim25.mo.ServiceInstance si, String moref) {
        return new VirtualMachine(si.getServerConnection(), VmInventory.mor("VirtualMachine", moref));
    }
}
