package io.blockmover.mover.api;

import io.blockmover.mover.vsphere.SnapshotTransport;
import io.blockmover.mover.vsphere.VsphereControl;

/**
 * What a proxy started with {@code --vcenter} backs up a VM named by a selector through: vCenter
 * for the VM and its snapshot, a transport for the snapshot's disks, and the id that marks this
 * proxy's snapshots (as {@code backup --proxy-id}).
 */
public record VcenterBackups(VsphereControl control, SnapshotTransport transport, String proxyId) {}
