package io.blockmover.mover.cli;

import io.blockmover.mover.transport.vddk.TransportChoice;
import io.blockmover.mover.transport.vddk.VddkSettings;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Optional;

/** The VDDK flags of backup and restore: which transport, which library, which modes. */
final class VddkOptions {
    @Option(names = "--transport", paramLabel = "vddk|vddk-only|nbd", defaultValue = "vddk",
            description = "How vddk:// disks are read: vddk (falling back to the --nbd-fallback endpoint when VDDK is absent "
                    + "or no mode can open the disk), vddk-only (never fall back), nbd (the NBD endpoint only). Default ${DEFAULT-VALUE}.")
    String transport;

    @Option(names = "--vddk-modes", paramLabel = "MODES", defaultValue = VddkSettings.DEFAULT_MODES,
            description = "VDDK transport modes to try, in order, VMware's spelling (default ${DEFAULT-VALUE}).")
    String modes;

    @Option(names = "--vddk-libdir", paramLabel = "DIR",
            description = "The VDDK directory (holding lib64/libvixDiskLib.so); default: $VDDK_LIBDIR.")
    Path libDir;

    @Option(names = "--vddk-config", paramLabel = "FILE", description = "VDDK's config file, given to VixDiskLib_InitEx.")
    Path config;

    @Option(names = "--vddk-handles", paramLabel = "N", defaultValue = "" + VddkSettings.DEFAULT_HANDLES,
            description = "VDDK handles opened per disk, read in turn (default ${DEFAULT-VALUE}).")
    int handles;

    @Option(names = "--vddk-reads", paramLabel = "async|sync", defaultValue = "async",
            description = "async: pipeline ReadAsync on each handle; sync: one Read at a time per handle (default ${DEFAULT-VALUE}).")
    String reads;

    VddkSettings settings() {
        return new VddkSettings(TransportChoice.parse(transport),
                Optional.ofNullable(libDir).or(VddkSettings::libDirFromEnvironment), Optional.ofNullable(config), modes,
                Optional.ofNullable(System.getenv("BLOCKMOVER_VDDK_PASSWORD")), handles, asyncReads());
    }

    private boolean asyncReads() {
        return switch (reads) {
            case "async" -> true;
            case "sync" -> false;
            default -> throw new IllegalArgumentException("--vddk-reads must be async or sync, not '" + reads + "'");
        };
    }
}
