package io.blockmover.mover.pipeline;

import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/** Turns an exception into the one line a user (or a scheduler, in a gRPC status) sees. */
public final class UserMessages {
    private UserMessages() {}

    public static String describe(Throwable t) {
        Throwable root = t;
        StringBuilder sb = new StringBuilder();
        // Walk the cause chain: outer messages give context, the innermost the reason.
        while (root != null) {
            String m = root instanceof FileSystemException f ? fileSystem(f) : root.getMessage();
            if (m != null && !m.isBlank() && (sb.isEmpty() || !sb.toString().contains(m))) {
                if (!sb.isEmpty()) {
                    sb.append(": ");
                }
                sb.append(m);
            }
            if (root.getCause() == root) {
                break;
            }
            root = root.getCause();
        }
        return sb.isEmpty() ? t.getClass().getSimpleName() : sb.toString();
    }

    /**
     * The JDK's file exceptions carry only the path as their message ("blockmover: /x/y" says
     * nothing): the path with what went wrong, named.
     */
    private static String fileSystem(FileSystemException f) {
        String reason = f.getReason() != null ? f.getReason()
                : f instanceof NoSuchFileException ? "no such file or directory"
                : f instanceof AccessDeniedException ? "permission denied"
                : f instanceof FileAlreadyExistsException ? "already exists"
                : f instanceof NotDirectoryException ? "not a directory"
                : f instanceof DirectoryNotEmptyException ? "directory not empty"
                : f.getClass().getSimpleName();
        String file = f.getFile() == null ? "" : f.getFile();
        return f.getOtherFile() == null ? file + ": " + reason : file + " -> " + f.getOtherFile() + ": " + reason;
    }
}
