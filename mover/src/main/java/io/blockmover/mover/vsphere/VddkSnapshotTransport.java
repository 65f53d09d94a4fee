package io.blockmover.mover.vsphere;

import io.blockmover.mover.transport.TransportSelection;
import io.blockmover.mover.transport.TransportUsed;
import io.blockmover.mover.transport.vddk.TransportChoice;
import io.blockmover.mover.transport.vddk.VddkDiskSource;
import io.blockmover.mover.transport.vddk.VddkSettings;
import io.blockmover.mover.transport.vddk.VddkUri;
import io.blockmover.mover.transport.vddk.VmAccessLock;
import io.blockmover.nativebridge.vddk.ConnectSpec;
import io.blockmover.nativebridge.vddk.VddkUnavailableException;
import io.blockmover.nativebridge.vddk.VixException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.Optional;

/**
 * Snapshot disks through VDDK, reached through the vCenter the job talks to: PrepareForAccess
 * before the snapshot (vCenter then refuses to relocate the VM), each disk opened by VM moref,
 * snapshot moref and disk file in the allowed modes, EndAccess once the snapshot is gone. A disk
 * VDDK cannot open (library absent, every mode refused) is read over NBD instead, and the result
 * says so, unless the choice is {@code vddk-only}. One instance serves one job at a time.
 */
public final class VddkSnapshotTransport implements SnapshotTransport {
    private static final Logger log = LoggerFactory.getLogger(VddkSnapshotTransport.class);

    private final String host;
    private final int nfcPort;
    private final String user;
    private final String password;
    private final VddkSettings settings;
    private final NbdSnapshotTransport fallback;
    private VmAccessLock lock;
    /** Why VDDK cannot be used at all in this job (library absent), found by prepare. */
    private Optional<String> absent = Optional.empty();

    /**
     * @param host    the vCenter host (VDDK's serverName)
     * @param nfcPort the hosts' NFC port (902 on ESXi)
     */
    public VddkSnapshotTransport(String host, int nfcPort, String user, String password, VddkSettings settings,
                                 NbdSnapshotTransport fallback) {
        if (settings.choice() == TransportChoice.NBD) {
            throw new IllegalArgumentException("--transport nbd reads snapshots with NbdSnapshotTransport, not VDDK");
        }
        this.host = host;
        this.nfcPort = nfcPort;
        this.user = user;
        this.password = password;
        this.settings = settings;
        this.fallback = fallback;
    }

    private ConnectSpec spec(VmInfo vm) {
        return new ConnectSpec(host, ConnectSpec.DEFAULT_PORT, nfcPort, vm.moref(), Optional.empty(), Optional.of(user),
                Optional.of(password));
    }

    @Override
    public void prepare(VmInfo vm) throws IOException {
        absent = Optional.empty();
        try {
            lock = VmAccessLock.prepare(settings, spec(vm));
        } catch (VddkUnavailableException e) {
            if (settings.choice() == TransportChoice.VDDK_ONLY) {
                throw new IOException("VDDK is unavailable: " + e.getMessage() + " (--transport vddk-only)", e);
            }
            absent = Optional.of(e.getMessage());
        } catch (VixException e) {
            // The disks may still open; only the protection against Storage vMotion is missing.
            log.warn("PrepareForAccess for {} failed ({}); reading its snapshot without the relocation lock", vm.name(),
                    e.getMessage());
        }
    }

    @Override
    public TransportSelection.Opened open(VmInfo vm, VmInfo.SnapshotInfo snapshot, VmInfo.Disk disk) throws IOException {
        VddkUri uri = new VddkUri(host, nfcPort, vm.moref(), Optional.of(snapshot.moref()), disk.fileName(),
                Optional.of(user), Optional.empty());
        String why;
        if (absent.isPresent()) {
            why = absent.get();
        } else {
            try {
                VddkDiskSource source = VddkDiskSource.open(uri, settings.withPassword(password), Optional.empty());
                return new TransportSelection.Opened(source, TransportUsed.vddk(source.mode()));
            } catch (VddkUnavailableException | VixException e) {
                if (settings.choice() == TransportChoice.VDDK_ONLY) {
                    throw new IOException("VDDK cannot open " + uri.describe() + " in modes " + settings.modes() + ": "
                            + e.getMessage() + " (--transport vddk-only)", e);
                }
                why = e.getMessage();
            }
        }
        log.warn("VDDK cannot read {} of {} in modes {}: {}; reading it over NBD", disk.fileName(), vm.name(), settings.modes(), why);
        return new TransportSelection.Opened(fallback.open(vm, snapshot, disk).source(), TransportUsed.nbdFallback(why));
    }

    @Override
    public void end(VmInfo vm) {
        if (lock != null) {
            lock.close();
            lock = null;
        }
    }
}
