package io.blockmover.mover.cli;

import io.blockmover.index.manifest.Names;

/**
 * The identity a backup records for a disk: the VM it belongs to and the disk within it. Taken
 * from {@code --name VM/DISK}, or from the export name: {@code vm01/disk-2000@snap-1} (the
 * emulated host's form) gives VM {@code vm01} and disk {@code disk-2000}; a name without a
 * slash is a VM with one disk, {@code disk0}.
 */
record DiskName(String vm, String disk) {

    DiskName {
        if (vm.isBlank() || disk.isBlank()) {
            throw new IllegalArgumentException("a disk name needs a VM and a disk: '" + vm + "/" + disk + "'");
        }
        Names.check("VM name", vm);
        Names.check("disk name", disk);
    }

    static DiskName parse(String text) {
        int slash = text.lastIndexOf('/');
        if (slash <= 0 || slash == text.length() - 1) {
            throw new IllegalArgumentException("--name must look like VM/DISK: '" + text + "'");
        }
        return new DiskName(text.substring(0, slash), text.substring(slash + 1));
    }

    static DiskName fromExport(String export) {
        String name = export.contains("@") ? export.substring(0, export.indexOf('@')) : export;
        name = name.startsWith("/") ? name.substring(1) : name;
        if (name.isBlank()) {
            throw new IllegalArgumentException("the export has no name to derive the VM and disk from; pass --name VM/DISK");
        }
        int slash = name.lastIndexOf('/');
        return slash <= 0 || slash == name.length() - 1 ? new DiskName(name, "disk0")
                : new DiskName(name.substring(0, slash), name.substring(slash + 1));
    }

    /** A vddk:// disk: the VM's moref, and the disk file's name without .vmdk ({@code [ds] vm01/vm01_1.vmdk} gives vm01_1). */
    static DiskName fromVddk(io.blockmover.mover.transport.vddk.VddkUri uri) {
        String path = uri.diskPath();
        String file = path.substring(Math.max(path.lastIndexOf('/'), path.lastIndexOf(']')) + 1).trim();
        return new DiskName(uri.vmMoref(), file.endsWith(".vmdk") ? file.substring(0, file.length() - 5) : file);
    }

    @Override
    public String toString() {
        return vm + "/" + disk;
    }
}
