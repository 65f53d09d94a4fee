package io.blockmover.mover.vsphere;

import io.blockmover.mover.transport.TransportSelection;

import java.io.IOException;

/**
 * How the disks of a snapshot are read: the seam where a backup picks its transport. NBD reads
 * exports named by a template; a VDDK transport plugs in here too, with PrepareForAccess before
 * the snapshot and EndAccess after its removal (the hooks around the snapshot).
 */
public interface SnapshotTransport {
    /** Before the snapshot is taken (VDDK: PrepareForAccess, which blocks Storage vMotion). */
    default void prepare(VmInfo vm) throws IOException {}

    /** A reader of one disk of the snapshot, and the transport (and VDDK mode) it actually uses. */
    TransportSelection.Opened open(VmInfo vm, VmInfo.SnapshotInfo snapshot, VmInfo.Disk disk) throws IOException;

    /** After the snapshot is gone, on every path (VDDK: EndAccess). */
    default void end(VmInfo vm) {}
}
