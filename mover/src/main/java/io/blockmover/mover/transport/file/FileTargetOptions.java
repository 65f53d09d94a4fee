package io.blockmover.mover.transport.file;

import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * How a restore writes a file.
 *
 * @param overwrite   replace an existing file at the final name
 * @param keepPartial keep {@code NAME.partial} when the restore fails (to look at it), instead of removing it
 * @param mode        the permissions of the restored file, set whatever the umask: a disk image is
 *                    the VM's data, so by default only its owner may read it (0600)
 */
public record FileTargetOptions(boolean overwrite, boolean keepPartial, Set<PosixFilePermission> mode) {
    public static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    public static final FileTargetOptions DEFAULT = new FileTargetOptions(false, false, OWNER_ONLY);

    public FileTargetOptions {
        mode = Set.copyOf(mode);
    }

    /** Parses an octal mode such as {@code 0640} or {@code 640}. */
    public static Set<PosixFilePermission> parseMode(String octal) {
        int bits;
        try {
            bits = Integer.parseInt(octal, 8);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--mode wants octal permissions such as 0640, got '" + octal + "'");
        }
        if (bits < 0 || bits > 0777) {
            throw new IllegalArgumentException("--mode wants permission bits (0 to 0777), got '" + octal + "'");
        }
        StringBuilder sb = new StringBuilder();
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            sb.append((bits & (0400 >> i)) != 0 ? rwx.charAt(i) : '-');
        }
        return PosixFilePermissions.fromString(sb.toString());
    }

    public FileTargetOptions withOverwrite(boolean overwrite) {
        return new FileTargetOptions(overwrite, keepPartial, mode);
    }
}
