package io.blockmover.mover.transport;

/** Names of the few error numbers NBD defines, for messages. */
final class ErrnoNames {
    private ErrnoNames() {}

    static String describe(int errno) {
        String name = switch (errno) {
            case 1 -> "EPERM";
            case 5 -> "EIO";
            case 12 -> "ENOMEM";
            case 22 -> "EINVAL";
            case 28 -> "ENOSPC";
            case 75 -> "EOVERFLOW";
            case 95 -> "ENOTSUP";
            case 108 -> "ESHUTDOWN";
            default -> "error";
        };
        return name + " (" + errno + ")";
    }
}
