package io.blockmover.nativebridge.vddk;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * One ConnectEx connection (to a VM's snapshot, or its live disks); {@link #close()} is
 * Disconnect. Its connect parameters stay allocated until then. Calls on it are serialised.
 */
public final class VixConnection implements AutoCloseable {
    public static final int OPEN_UNBUFFERED = 1;
    public static final int OPEN_SINGLE_LINK = 2;
    public static final int OPEN_READ_ONLY = 4;

    private final VixDiskLib lib;
    private final Arena arena;
    private final MemorySegment handle;
    private final ConnectSpec spec;
    private final Optional<String> snapshot;
    private final String modes;
    private boolean closed;

    VixConnection(VixDiskLib lib, Arena arena, MemorySegment handle, ConnectSpec spec, Optional<String> snapshot,
                  String modes) {
        this.lib = lib;
        this.arena = arena;
        this.handle = handle;
        this.spec = spec;
        this.snapshot = snapshot;
        this.modes = modes;
    }

    public ConnectSpec spec() {
        return spec;
    }

    public Optional<String> snapshot() {
        return snapshot;
    }

    /** The transport modes this connection was made with, VDDK's colon list. */
    public String modes() {
        return modes;
    }

    /**
     * Open: the disk at {@code path} (e.g. {@code [datastore1] vm01/vm01.vmdk}), in the first of the
     * connection's modes that works. The handle gets a worker thread of its own.
     */
    public synchronized VixDisk open(String path, int flags) throws VixException {
        if (closed) {
            throw new IllegalStateException("VDDK connection closed");
        }
        try (Arena call = Arena.ofConfined()) {
            MemorySegment out = call.allocate(ADDRESS);
            long err = (long) lib.fn.open.invokeExact(handle, call.allocateFrom(path), flags, out);
            lib.check("Open " + path, err);
            return VixDisk.opened(lib, out.get(ADDRESS, 0), path);
        } catch (VixException e) {
            throw e;
        } catch (Throwable t) {
            throw VixDiskLib.rethrow(t);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            long err = (long) lib.fn.disconnect.invokeExact(handle);
            if (err != 0) {
                throw new IllegalStateException(lib.error("Disconnect", err).getMessage());
            }
        } catch (Throwable t) {
            throw VixDiskLib.rethrow(t);
        } finally {
            arena.close();
        }
    }
}
