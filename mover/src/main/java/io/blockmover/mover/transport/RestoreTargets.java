package io.blockmover.mover.transport;

import io.blockmover.mover.transport.file.FileDiskTarget;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.transport.nbd.NbdDiskTarget;
import io.blockmover.mover.transport.vddk.VddkUri;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where a restored disk goes: an NBD export for an NBD URI, a VM's disk through VDDK for vddk://, else a raw file. */
public final class RestoreTargets {
    private RestoreTargets() {}

    public static boolean isNbdUri(String where) {
        return where.matches("^nbds?(\\+unix)?://.*");
    }

    /** True for targets that are not files: NBD exports and VDDK disks. */
    public static boolean isRemote(String where) {
        return isNbdUri(where) || VddkUri.isVddk(where);
    }

    /** Like {@link #open(String, long, boolean, NbdAccess)}, and a vddk:// URI restores through VDDK. */
    public static DiskTarget open(String where, long capacity, boolean overwrite, TransportSelection transports) throws IOException {
        if (VddkUri.isVddk(where)) {
            return transports.openVddkTarget(where, capacity);
        }
        return open(where, capacity, overwrite, transports.nbd());
    }

    /**
     * Opens {@code where} for a disk of {@code capacity} bytes. An export smaller than the disk is
     * refused; an existing file is refused unless {@code overwrite}.
     */
    public static DiskTarget open(String where, long capacity, boolean overwrite, NbdAccess nbd) throws IOException {
        if (isNbdUri(where)) {
            NbdDiskTarget target = nbd.openTarget(where);
            if (target.capacity() < capacity) {
                target.close();
                throw new IOException(where + " holds " + target.capacity() + " bytes; the disk needs " + capacity);
            }
            return target;
        }
        Path file = Path.of(where);
        if (file.getParent() != null) {
            Files.createDirectories(file.getParent());
        }
        return FileDiskTarget.create(file, capacity, overwrite);
    }
}
