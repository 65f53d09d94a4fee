package io.blockmover.mover.transport.vddk;

import io.blockmover.nativebridge.vddk.ConnectSpec;
import io.blockmover.nativebridge.vddk.VddkUnavailableException;
import io.blockmover.nativebridge.vddk.VixException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * VDDK's PrepareForAccess .. EndAccess around a backup that uses a vCenter: vCenter will not
 * relocate the VM (Storage vMotion) while its disks are read. VMware's order is PrepareForAccess
 * before the snapshot is created, EndAccess after the disks are closed and the snapshot removed,
 * so the vSphere job opens this first and closes it last.
 */
public final class VmAccessLock implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VmAccessLock.class);
    /** VDDK takes at most 50 characters. */
    public static final String IDENTITY = "blockmover";

    private final VddkRuntime.Lease lease;
    private final ConnectSpec spec;
    private boolean closed;

    private VmAccessLock(VddkRuntime.Lease lease, ConnectSpec spec) {
        this.lease = lease;
        this.spec = spec;
    }

    public static VmAccessLock prepare(VddkSettings settings, ConnectSpec spec) throws VddkUnavailableException, VixException {
        VddkRuntime.Lease lease = VddkRuntime.acquire(settings.libDir().orElseThrow(() -> new VddkUnavailableException(
                "VDDK is not configured (give --vddk-libdir or set VDDK_LIBDIR)")), settings.configFile());
        try {
            lease.lib().prepareForAccess(spec, IDENTITY);
            return new VmAccessLock(lease, spec);
        } catch (VixException | RuntimeException e) {
            lease.close();
            throw e;
        }
    }

    /** EndAccess; a failure is logged, not thrown: the backup itself is done by then. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            lease.lib().endAccess(spec, IDENTITY);
        } catch (VixException e) {
            log.warn("EndAccess for {} failed; vCenter may keep refusing to relocate the VM until it is called again: {}",
                    spec.vmMoref(), e.getMessage());
        } finally {
            lease.close();
        }
    }
}
