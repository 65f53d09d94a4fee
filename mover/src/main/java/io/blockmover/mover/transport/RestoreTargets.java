package io.blockmover.mover.transport;

import io.blockmover.mover.transport.file.FileDiskTarget;
import io.blockmover.mover.transport.file.FileTargetOptions;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.transport.nbd.NbdDiskTarget;
import io.blockmover.mover.transport.vddk.VddkUri;

import io.blockmover.index.manifest.Names;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where a restored disk goes: an NBD export for an NBD URI, a VM's disk through VDDK for vddk://, else a raw file. */
public final class RestoreTargets {
    private RestoreTargets() {}

    /**
     * The file a disk of VM {@code vm} restores to inside {@code dir}: {@code DIR/<vm>-<disk>.raw}.
     * The one place a recorded name becomes a path: names come from backups, which came from the
     * network, so a name that is not a safe file name is refused (restore it to an explicit file
     * instead) and the result is checked to lie directly inside {@code dir}.
     */
    public static Path fileIn(Path dir, String vm, String disk) {
        for (String name : new String[] {vm, disk}) {
            String why = Names.problem(name);
            if (why != null) {
                throw new IllegalArgumentException("cannot restore " + Names.printable(vm) + "/" + Names.printable(disk)
                        + " into a directory: the name '" + Names.printable(name) + "' is not a safe file name (" + why
                        + "); restore that disk to an explicit file (--to FILE)");
            }
        }
        Path base = dir.toAbsolutePath().normalize();
        Path file = base.resolve(vm + "-" + disk + ".raw").normalize();
        if (!base.equals(file.getParent())) {
            throw new SecurityException("the restore file of " + vm + "/" + disk + " would leave " + base);
        }
        return file;
    }

    public static boolean isNbdUri(String where) {
        return where.matches("^nbds?(\\+unix)?://.*");
    }

    /** True for targets that are not files: NBD exports and VDDK disks. */
    public static boolean isRemote(String where) {
        return isNbdUri(where) || VddkUri.isVddk(where);
    }

    /** Like {@link #open(String, long, FileTargetOptions, NbdAccess)}, and a vddk:// URI restores through VDDK. */
    public static DiskTarget open(String where, long capacity, FileTargetOptions options, TransportSelection transports)
            throws IOException {
        if (VddkUri.isVddk(where)) {
            return transports.openVddkTarget(where, capacity);
        }
        return open(where, capacity, options, transports.nbd());
    }

    /**
     * Opens {@code where} for a disk of {@code capacity} bytes. An export smaller than the disk is
     * refused; a file is written as {@code options} say (see {@link FileDiskTarget}).
     */
    public static DiskTarget open(String where, long capacity, FileTargetOptions options, NbdAccess nbd) throws IOException {
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
            try {
                Files.createDirectories(file.getParent());
            } catch (IOException e) {
                throw new IOException("creating the directory " + file.getParent() + ": " + e.getMessage(), e);
            }
        }
        return FileDiskTarget.create(file, capacity, options);
    }
}
