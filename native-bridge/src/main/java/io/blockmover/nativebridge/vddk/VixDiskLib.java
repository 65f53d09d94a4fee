package io.blockmover.nativebridge.vddk;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * VixDiskLib, initialised: the library-wide calls (InitEx .. Exit, connections, the vMotion lock
 * of PrepareForAccess/EndAccess, Cleanup) over FFM. VDDK is one per process, so at most one
 * instance is open at a time; {@link #close()} calls Exit.
 *
 * <p>VDDK's version 7.0 of the API is asked for: the structs in {@link VixLayouts} are its.
 */
public final class VixDiskLib implements AutoCloseable {
    static final int API_MAJOR = 7;
    static final int API_MINOR = 0;
    private static final Map<Path, VixFunctions> loaded = new HashMap<>();
    private static VixDiskLib current;

    final VixFunctions fn;
    private final Path libDir;
    private final Optional<Path> configFile;
    private boolean closed;

    private VixDiskLib(VixFunctions fn, Path libDir, Optional<Path> configFile) {
        this.fn = fn;
        this.libDir = libDir;
        this.configFile = configFile;
    }

    /**
     * Loads {@code libvixDiskLib.so} from {@code libDir} (see {@link VixFunctions#load}) and calls
     * InitEx with the log trampoline and {@code configFile} (VDDK's own config file, passed as is).
     */
    public static synchronized VixDiskLib init(Path libDir, Optional<Path> configFile)
            throws VddkUnavailableException, VixException {
        if (current != null) {
            throw new IllegalStateException("VDDK is already initialised from " + current.libDir + "; close it first");
        }
        Path key = libDir.toAbsolutePath().normalize();
        VixFunctions fn = loaded.get(key);
        if (fn == null) {
            fn = VixFunctions.load(key);
            loaded.put(key, fn);
        }
        VddkLog log = VddkLog.get();
        VixDiskLib lib = new VixDiskLib(fn, key, configFile);
        try (Arena arena = Arena.ofConfined()) {
            long err = (long) fn.initEx.invokeExact(API_MAJOR, API_MINOR, log.logFunction, log.warnFunction, log.panicFunction,
                    arena.allocateFrom(key.toString()),
                    configFile.map(p -> arena.allocateFrom(p.toAbsolutePath().toString())).orElse(MemorySegment.NULL));
            lib.check("InitEx", err);
        } catch (VixException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
        current = lib;
        return lib;
    }

    public Path libDir() {
        return libDir;
    }

    public Optional<Path> configFile() {
        return configFile;
    }

    /** The library file that was loaded. */
    public Path library() {
        return fn.library;
    }

    /** The transport modes this VDDK supports, e.g. [file, san, hotadd, nbdssl, nbd]. */
    public List<String> transportModes() {
        try {
            MemorySegment s = (MemorySegment) fn.listTransportModes.invokeExact();
            return s.equals(MemorySegment.NULL) ? List.of() : List.of(cString(s).split(":"));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * ConnectEx: a connection to the VM {@code spec} names, to its snapshot (read-only access) or
     * to the live disk ({@code snapshotMoref} empty), trying {@code modes} (VDDK's colon list, e.g.
     * {@code san:hotadd:nbdssl:nbd}) in order when a disk is opened.
     */
    public VixConnection connect(ConnectSpec spec, Optional<String> snapshotMoref, String modes, boolean readOnly)
            throws VixException {
        checkOpen();
        Arena arena = Arena.ofShared();
        try {
            MemorySegment params = connectParams(arena, spec);
            MemorySegment out = arena.allocate(ADDRESS);
            long err = (long) fn.connectEx.invokeExact(params, readOnly ? (byte) 1 : (byte) 0,
                    snapshotMoref.map(arena::allocateFrom).orElse(MemorySegment.NULL), arena.allocateFrom(modes), out);
            check("ConnectEx", err);
            return new VixConnection(this, arena, out.get(ADDRESS, 0), spec, snapshotMoref, modes);
        } catch (VixException e) {
            arena.close();
            throw e;
        } catch (Throwable t) {
            arena.close();
            throw rethrow(t);
        }
    }

    /** PrepareForAccess: vCenter refuses to relocate the VM (Storage vMotion) until {@link #endAccess}. */
    public void prepareForAccess(ConnectSpec spec, String identity) throws VixException {
        accessCall("PrepareForAccess", spec, identity, true);
    }

    /** EndAccess: call after the disks are closed and the snapshot is removed. */
    public void endAccess(ConnectSpec spec, String identity) throws VixException {
        accessCall("EndAccess", spec, identity, false);
    }

    private void accessCall(String name, ConnectSpec spec, String identity, boolean prepare) throws VixException {
        checkOpen();
        if (identity.length() > 50) {
            throw new IllegalArgumentException("a VDDK access identity has at most 50 characters: " + identity);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = connectParams(arena, spec);
            MemorySegment id = arena.allocateFrom(identity);
            long err = prepare ? (long) fn.prepareForAccess.invokeExact(params, id) : (long) fn.endAccess.invokeExact(params, id);
            check(name, err);
        } catch (VixException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** What Cleanup did: connections it cleaned up and those still left. */
    public record CleanupResult(int cleaned, int remaining) {}

    /** Cleanup: repairs what an unclean end of an earlier ConnectEx left behind (e.g. hotadd disks). */
    public CleanupResult cleanup(ConnectSpec spec) throws VixException {
        checkOpen();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = connectParams(arena, spec);
            params.set(ADDRESS, VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "vmxSpec"), MemorySegment.NULL);
            MemorySegment cleaned = arena.allocate(JAVA_INT);
            MemorySegment remaining = arena.allocate(JAVA_INT);
            check("Cleanup", (long) fn.cleanup.invokeExact(params, cleaned, remaining));
            return new CleanupResult(cleaned.get(JAVA_INT, 0), remaining.get(JAVA_INT, 0));
        } catch (VixException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Exit. Connections must be closed first. */
    @Override
    public void close() {
        synchronized (VixDiskLib.class) {
            if (closed) {
                return;
            }
            closed = true;
            try {
                fn.exit.invokeExact();
            } catch (Throwable t) {
                throw rethrow(t);
            } finally {
                current = null;
            }
        }
    }

    static MemorySegment connectParams(Arena arena, ConnectSpec spec) {
        MemorySegment p = arena.allocate(VixLayouts.CONNECT_PARAMS);
        p.set(ADDRESS, VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "vmxSpec"), arena.allocateFrom(spec.vmxSpec()));
        p.set(ADDRESS, VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "serverName"), arena.allocateFrom(spec.server()));
        spec.thumbprint().ifPresent(t ->
                p.set(ADDRESS, VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "thumbPrint"), arena.allocateFrom(t)));
        if (spec.user().isPresent()) {
            p.set(JAVA_INT, VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "credType"), 1); // VIXDISKLIB_CRED_UID
            p.set(ADDRESS, VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "creds", "uid", "userName"),
                    arena.allocateFrom(spec.user().get()));
            p.set(ADDRESS, VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "creds", "uid", "password"),
                    arena.allocateFrom(spec.password().orElse("")));
        }
        p.set(JAVA_INT, VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "port"), spec.port());
        p.set(JAVA_INT, VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "nfcHostPort"), spec.nfcPort());
        p.set(JAVA_INT, VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "specType"), 0); // VIXDISKLIB_SPEC_VMX
        return p;
    }

    /** Throws the typed exception for {@code err}, with VDDK's text for it; returns on VIX_OK. */
    void check(String operation, long err) throws VixException {
        if (err != 0) {
            throw error(operation, err);
        }
    }

    VixException error(String operation, long err) {
        return new VixException(operation, err, errorText(err));
    }

    /** GetErrorText, freed with FreeErrorText; safe from any thread. */
    String errorText(long err) {
        try {
            MemorySegment text = (MemorySegment) fn.getErrorText.invokeExact(err, MemorySegment.NULL);
            if (text.equals(MemorySegment.NULL)) {
                return "(no text)";
            }
            try {
                return cString(text);
            } finally {
                fn.freeErrorText.invokeExact(text);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("VDDK was closed (Exit)");
        }
    }

    static String cString(MemorySegment s) {
        return s.reinterpret(Integer.MAX_VALUE).getString(0);
    }


    /** Downcalls declare Throwable; only unchecked exceptions and errors can really come out. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }

}
