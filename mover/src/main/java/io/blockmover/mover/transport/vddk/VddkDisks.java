package io.blockmover.mover.transport.vddk;

import io.blockmover.nativebridge.vddk.VddkUnavailableException;
import io.blockmover.nativebridge.vddk.VixConnection;
import io.blockmover.nativebridge.vddk.VixDisk;
import io.blockmover.nativebridge.vddk.VixException;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One disk opened through VDDK: the runtime lease, the connection and one or more handles of
 * the same disk, closed together in reverse order on every path.
 */
final class VddkDisks implements AutoCloseable {
    final VddkRuntime.Lease lease;
    final VixConnection connection;
    final List<VixDisk> handles;

    private VddkDisks(VddkRuntime.Lease lease, VixConnection connection, List<VixDisk> handles) {
        this.lease = lease;
        this.connection = connection;
        this.handles = handles;
    }

    /** ConnectEx then {@code handles} Opens of {@code uri}'s disk; read-only for a snapshot. */
    static VddkDisks open(VddkUri uri, VddkSettings settings, boolean readOnly, int handles)
            throws VddkUnavailableException, VixException {
        VddkRuntime.Lease lease = VddkRuntime.acquire(settings.libDir().orElseThrow(() -> new VddkUnavailableException(
                "VDDK is not configured (give --vddk-libdir or set VDDK_LIBDIR)")), settings.configFile());
        VixConnection connection = null;
        List<VixDisk> opened = new ArrayList<>();
        try {
            connection = lease.lib().connect(uri.connectSpec(settings.password()), uri.snapshotMoref(), settings.modes(), readOnly);
            int flags = readOnly ? VixConnection.OPEN_READ_ONLY : 0;
            for (int i = 0; i < handles; i++) {
                opened.add(connection.open(uri.diskPath(), flags));
            }
            return new VddkDisks(lease, connection, List.copyOf(opened));
        } catch (VixException | RuntimeException e) {
            closeAll(opened, Optional.ofNullable(connection), lease);
            throw e;
        }
    }

    /** The mode VDDK chose at Open, e.g. {@code nbdssl}. */
    String mode() {
        return handles.getFirst().transportMode();
    }

    @Override
    public void close() {
        closeAll(handles, Optional.of(connection), lease);
    }

    /** Closes every handle, then the connection, then the lease, whatever fails on the way; throws the first failure. */
    private static void closeAll(List<VixDisk> handles, Optional<VixConnection> connection, VddkRuntime.Lease lease) {
        RuntimeException first = null;
        for (VixDisk d : handles.reversed()) {
            try {
                d.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        try {
            connection.ifPresent(VixConnection::close);
        } catch (RuntimeException e) {
            first = first == null ? e : first;
        } finally {
            lease.close();
        }
        if (first != null) {
            throw first;
        }
    }
}
