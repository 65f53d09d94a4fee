package io.blockmover.mover.transport.vddk;

import io.blockmover.nativebridge.vddk.VddkUnavailableException;
import io.blockmover.nativebridge.vddk.VixDiskLib;
import io.blockmover.nativebridge.vddk.VixException;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * The process's one initialised VixDiskLib, shared by every job that uses it. VDDK is initialised
 * once per process (InitEx starts threads), so a job leases it; it stays initialised between
 * jobs, and is re-initialised only when a job asks for another library or config file while no
 * other job holds it.
 */
public final class VddkRuntime {
    private static VixDiskLib lib;
    private static int leases;

    private VddkRuntime() {}

    /** A lease on VixDiskLib; closing it gives the lease back (VDDK stays initialised). */
    public static final class Lease implements AutoCloseable {
        private final VixDiskLib lib;
        private boolean closed;

        private Lease(VixDiskLib lib) {
            this.lib = lib;
        }

        public VixDiskLib lib() {
            return lib;
        }

        @Override
        public void close() {
            synchronized (VddkRuntime.class) {
                if (!closed) {
                    closed = true;
                    leases--;
                }
            }
        }
    }

    public static synchronized Lease acquire(Path libDir, Optional<Path> configFile) throws VddkUnavailableException, VixException {
        Path dir = libDir.toAbsolutePath().normalize();
        if (lib != null && !(lib.libDir().equals(dir) && Objects.equals(lib.configFile(), configFile))) {
            if (leases > 0) {
                throw new VddkUnavailableException("VDDK is in use from " + lib.libDir() + "; it cannot also be loaded from " + dir);
            }
            lib.close();
            lib = null;
        }
        if (lib == null) {
            lib = VixDiskLib.init(dir, configFile);
        }
        leases++;
        return new Lease(lib);
    }
}
