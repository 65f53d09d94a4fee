package io.blockmover.index.repo;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * A repository holds the disks' data (in the clear unless encrypted) and the wrapped key: only
 * its owner may read it, whatever umask the operator's shell or service manager had (0022 makes
 * files world-readable, 0000 world-writable). Files we create ourselves get their mode
 * explicitly; RocksDB creates its own files with the process umask, so a process that opens a
 * repository narrows its umask to 077 (process-wide, once: what it creates afterwards is private
 * unless it sets a mode explicitly, as restores do).
 */
public final class FileModes {
    public static final Set<PosixFilePermission> DIRECTORY = PosixFilePermissions.fromString("rwx------");
    public static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");
    private static final int PRIVATE_UMASK = 077;
    private static final MethodHandle UMASK = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("umask").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private FileModes() {}

    /**
     * Sets the process umask to 077 (libc's umask through FFM; the JDK has no call for it) and
     * returns the one it replaces. Set at every open, not once: the call is cheap and another
     * part of the process may have changed it since.
     */
    public static int narrowUmask() {
        return umask(PRIVATE_UMASK);
    }

    /** Sets the process umask, returning the previous one. */
    public static int umask(int mask) {
        try {
            return (int) UMASK.invokeExact(mask);
        } catch (Throwable t) {
            throw new IllegalStateException("umask(" + Integer.toOctalString(mask) + ") failed", t);
        }
    }

    /** Creates {@code dir} and missing parents inside it, and makes {@code dir} itself owner-only. */
    public static Path privateDirectory(Path dir) throws IOException {
        try {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, DIRECTORY);
        } catch (IOException e) {
            throw new IOException("creating the directory " + dir + ": " + e.getMessage(), e);
        }
        return dir;
    }

    /** Makes {@code file} owner-read-write only. */
    public static void privateFile(Path file) throws IOException {
        Files.setPosixFilePermissions(file, FILE);
    }
}
