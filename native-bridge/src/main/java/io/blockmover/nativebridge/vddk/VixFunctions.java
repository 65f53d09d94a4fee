package io.blockmover.nativebridge.vddk;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Downcall handles for every VixDiskLib function blockmover calls, looked up in one loaded
 * {@code libvixDiskLib.so}. Every symbol is resolved up front, so a library that lacks one is
 * refused at load time with its name, never at the first backup that needs it.
 */
final class VixFunctions {
    /** Library names in the order they are tried under a VDDK directory (VDDK 9, 8, 7 ship versioned names). */
    private static final List<String> NAMES = List.of("libvixDiskLib.so", "libvixDiskLib.so.9", "libvixDiskLib.so.8",
            "libvixDiskLib.so.7");

    final Path library;
    final MethodHandle initEx;
    final MethodHandle exit;
    final MethodHandle listTransportModes;
    final MethodHandle connectEx;
    final MethodHandle disconnect;
    final MethodHandle prepareForAccess;
    final MethodHandle endAccess;
    final MethodHandle cleanup;
    final MethodHandle open;
    final MethodHandle close;
    final MethodHandle getInfo;
    final MethodHandle freeInfo;
    final MethodHandle getTransportMode;
    final MethodHandle read;
    final MethodHandle write;
    final MethodHandle readAsync;
    final MethodHandle writeAsync;
    final MethodHandle waitAll;
    final MethodHandle flush;
    final MethodHandle queryAllocatedBlocks;
    final MethodHandle freeBlockList;
    final MethodHandle getErrorText;
    final MethodHandle freeErrorText;

    private final SymbolLookup lookup;
    private final Linker linker = Linker.nativeLinker();

    private VixFunctions(Path library, SymbolLookup lookup) throws VddkUnavailableException {
        this.library = library;
        this.lookup = lookup;
        initEx = find("VixDiskLib_InitEx", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS));
        exit = find("VixDiskLib_Exit", FunctionDescriptor.ofVoid());
        listTransportModes = find("VixDiskLib_ListTransportModes", FunctionDescriptor.of(ADDRESS));
        connectEx = find("VixDiskLib_ConnectEx", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_BYTE, ADDRESS, ADDRESS, ADDRESS));
        disconnect = find("VixDiskLib_Disconnect", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        prepareForAccess = find("VixDiskLib_PrepareForAccess", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS));
        endAccess = find("VixDiskLib_EndAccess", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS));
        cleanup = find("VixDiskLib_Cleanup", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
        open = find("VixDiskLib_Open", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
        close = find("VixDiskLib_Close", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        getInfo = find("VixDiskLib_GetInfo", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS));
        freeInfo = find("VixDiskLib_FreeInfo", FunctionDescriptor.ofVoid(ADDRESS));
        getTransportMode = find("VixDiskLib_GetTransportMode", FunctionDescriptor.of(ADDRESS, ADDRESS));
        read = find("VixDiskLib_Read", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
        write = find("VixDiskLib_Write", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
        readAsync = find("VixDiskLib_ReadAsync", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS,
                ADDRESS, ADDRESS));
        writeAsync = find("VixDiskLib_WriteAsync", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS,
                ADDRESS, ADDRESS));
        waitAll = find("VixDiskLib_Wait", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        flush = find("VixDiskLib_Flush", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        queryAllocatedBlocks = find("VixDiskLib_QueryAllocatedBlocks", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, ADDRESS));
        freeBlockList = find("VixDiskLib_FreeBlockList", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        getErrorText = find("VixDiskLib_GetErrorText", FunctionDescriptor.of(ADDRESS, JAVA_LONG, ADDRESS));
        freeErrorText = find("VixDiskLib_FreeErrorText", FunctionDescriptor.ofVoid(ADDRESS));
    }

    /**
     * Loads the library from a VDDK directory: {@code DIR/lib64/libvixDiskLib.so*} (VDDK's own
     * layout) or {@code DIR/libvixDiskLib.so*}. The library stays loaded for the life of the JVM,
     * as VDDK expects (it starts threads in InitEx).
     */
    static VixFunctions load(Path dir) throws VddkUnavailableException {
        Path library = locate(dir).orElseThrow(() -> new VddkUnavailableException(
                "no libvixDiskLib.so in " + dir + "/lib64 or " + dir + " (give the VDDK directory with --vddk-libdir or VDDK_LIBDIR)"));
        SymbolLookup lookup;
        try {
            lookup = SymbolLookup.libraryLookup(library, Arena.global());
        } catch (IllegalArgumentException | IllegalCallerException e) {
            throw new VddkUnavailableException("cannot load " + library + ": " + oneLine(e.getMessage())
                    + " (VDDK's own libraries must be found through LD_LIBRARY_PATH=" + library.getParent() + ")");
        }
        return new VixFunctions(library, lookup);
    }

    static Optional<Path> locate(Path dir) {
        for (Path base : List.of(dir.resolve("lib64"), dir)) {
            for (String name : NAMES) {
                Path p = base.resolve(name);
                if (Files.isRegularFile(p)) {
                    return Optional.of(p.toAbsolutePath());
                }
            }
        }
        return Optional.empty();
    }

    private MethodHandle find(String name, FunctionDescriptor descriptor) throws VddkUnavailableException {
        return linker.downcallHandle(lookup.find(name).orElseThrow(() -> new VddkUnavailableException(
                library + " lacks " + name + " (VDDK 6.7 or later is needed)")), descriptor);
    }

    private static String oneLine(String s) {
        return s == null ? "unknown error" : s.replaceAll("\\s+", " ").trim();
    }

}
