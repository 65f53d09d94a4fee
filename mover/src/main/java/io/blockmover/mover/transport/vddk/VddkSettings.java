package io.blockmover.mover.transport.vddk;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * How a job uses VDDK: where the library is ({@code --vddk-libdir} or {@code VDDK_LIBDIR}; empty
 * means VDDK is absent), VDDK's config file, the allowed transport modes in order (VMware's colon
 * list; default {@code san:hotadd:nbdssl:nbd}), the password for the vddk:// user, and how reads
 * are spread: over {@code handles} handles of the disk in turn, pipelined with ReadAsync
 * ({@code asyncReads}) or as synchronous Reads (one at a time per handle).
 */
public record VddkSettings(TransportChoice choice, Optional<Path> libDir, Optional<Path> configFile, String modes,
                           Optional<String> password, int handles, boolean asyncReads) {
    public static final String DEFAULT_MODES = "san:hotadd:nbdssl:nbd";
    /** Handles per disk by default; docs/performance.md has the measurements behind it. */
    public static final int DEFAULT_HANDLES = 2;
    private static final List<String> KNOWN_MODES = List.of("file", "san", "hotadd", "nbdssl", "nbd");

    public VddkSettings {
        for (String m : modes.split(":")) {
            if (!KNOWN_MODES.contains(m)) {
                throw new IllegalArgumentException("unknown VDDK transport mode '" + m + "' in --vddk-modes " + modes
                        + " (known: " + String.join(", ", KNOWN_MODES) + ")");
            }
        }
        if (handles < 1) {
            throw new IllegalArgumentException("--vddk-handles must be at least 1");
        }
    }

    public static VddkSettings defaults() {
        return new VddkSettings(TransportChoice.VDDK, libDirFromEnvironment(), Optional.empty(), DEFAULT_MODES,
                Optional.ofNullable(System.getenv("BLOCKMOVER_VDDK_PASSWORD")), DEFAULT_HANDLES, true);
    }

    public static Optional<Path> libDirFromEnvironment() {
        return Optional.ofNullable(System.getenv("VDDK_LIBDIR")).filter(s -> !s.isBlank()).map(Path::of);
    }

    public VddkSettings withChoice(TransportChoice c) {
        return new VddkSettings(c, libDir, configFile, modes, password, handles, asyncReads);
    }

    public VddkSettings withPassword(String p) {
        return new VddkSettings(choice, libDir, configFile, modes, Optional.of(p), handles, asyncReads);
    }

    public VddkSettings withModes(String m) {
        return new VddkSettings(choice, libDir, configFile, m, password, handles, asyncReads);
    }

}
