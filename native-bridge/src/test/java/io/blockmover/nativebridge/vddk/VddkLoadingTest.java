package io.blockmover.nativebridge.vddk;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A missing library, or one without a needed symbol, is one line a user can act on. */
class VddkLoadingTest {

    @Test
    void missingLibrary(@TempDir Path dir) {
        VddkUnavailableException e = assertThrows(VddkUnavailableException.class, () -> VixDiskLib.init(dir, Optional.empty()));
        assertEquals("no libvixDiskLib.so in " + dir + "/lib64 or " + dir
                + " (give the VDDK directory with --vddk-libdir or VDDK_LIBDIR)", e.getMessage());
    }

    @Test
    void libraryWithoutTheFunctions(@TempDir Path dir) throws Exception {
        // A real shared object, but not VixDiskLib: the log trampoline under VDDK's name.
        Path lib64 = Files.createDirectories(dir.resolve("lib64"));
        Path trampoline = Path.of(VddkLog.class.getResource("/native/linux-x86_64/libblockmover-vddk-log.so").toURI());
        Files.copy(trampoline, lib64.resolve("libvixDiskLib.so.8"));
        VddkUnavailableException e = assertThrows(VddkUnavailableException.class, () -> VixDiskLib.init(dir, Optional.empty()));
        assertEquals(lib64.resolve("libvixDiskLib.so.8") + " lacks VixDiskLib_InitEx (VDDK 6.7 or later is needed)", e.getMessage());
    }

    @Test
    void notASharedObject(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("libvixDiskLib.so"), "not ELF");
        VddkUnavailableException e = assertThrows(VddkUnavailableException.class, () -> VixDiskLib.init(dir, Optional.empty()));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertEquals(true, e.getMessage().startsWith("cannot load " + dir.resolve("libvixDiskLib.so") + ": "), e.getMessage());
    }
}
