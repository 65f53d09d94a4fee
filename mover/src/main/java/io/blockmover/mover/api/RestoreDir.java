package io.blockmover.mover.api;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where the proxy may write restored files: inside the one directory its operator chose, never
 * elsewhere. A proxy often runs as root, and a restore request is a path from the network; without
 * this a caller could overwrite any file on the host. Relative targets are inside the directory;
 * absolute ones must be. Symbolic links that lead out are refused.
 */
final class RestoreDir {
    private final Optional<Path> root;

    private RestoreDir(Optional<Path> root) {
        this.root = root;
    }

    /** {@code dir} (created if missing), or no file restores at all when empty. */
    static RestoreDir of(Optional<Path> dir) throws IOException {
        if (dir.isEmpty()) {
            return new RestoreDir(Optional.empty());
        }
        Files.createDirectories(dir.get());
        return new RestoreDir(Optional.of(dir.get().toRealPath()));
    }

    /** True when {@code target} names an existing directory inside the restore directory. */
    boolean isDirectory(String target) throws IOException {
        return root.isPresent() && Files.isDirectory(inside(target));
    }

    /** The directory {@code target} names, inside the restore directory. */
    Path directory(String target) {
        return inside(target);
    }

    /** The file {@code target} names, its parent directories created, checked to lie inside. */
    Path file(String target) throws IOException {
        Path p = inside(target);
        Path existing = p.getParent();
        while (!Files.exists(existing)) {
            existing = existing.getParent();
        }
        checkReal(existing, target);
        Files.createDirectories(p.getParent());
        checkReal(p.getParent(), target);
        if (Files.isSymbolicLink(p)) {
            throw new SecurityException(target + " is a symbolic link; the proxy restores only to plain files");
        }
        return p;
    }

    private Path inside(String target) {
        Path dir = root.orElseThrow(() -> new IllegalStateException(
                "this proxy restores to NBD exports only; start it with --restore-dir DIR to allow files"));
        Path p = dir.resolve(target).normalize();
        if (!p.startsWith(dir) || p.equals(dir) && !Files.isDirectory(p)) {
            throw new SecurityException(target + " is outside the proxy's restore directory " + dir);
        }
        return p;
    }

    private void checkReal(Path dir, String target) throws IOException {
        if (!dir.toRealPath().startsWith(root.orElseThrow())) {
            throw new SecurityException(target + " leads outside the proxy's restore directory " + root.orElseThrow());
        }
    }
}
