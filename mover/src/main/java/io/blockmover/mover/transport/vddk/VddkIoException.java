package io.blockmover.mover.transport.vddk;

import io.blockmover.mover.transport.DiskIoException;
import io.blockmover.nativebridge.vddk.VixException;

/** A VDDK read or write failed: the range, and VDDK's own code and text (the cause). */
public final class VddkIoException extends DiskIoException {
    private final VixException vix;

    VddkIoException(String operation, long offset, long length, VixException vix) {
        super(operation, offset, length, errno(vix), vix.getMessage());
        this.vix = vix;
        initCause(vix);
    }

    public VixException vix() {
        return vix;
    }

    /** The POSIX errno closest to the VixError, for callers that only know errnos. */
    private static int errno(VixException e) {
        return e.known().map(c -> switch (c) {
            case OUT_OF_MEMORY -> 12;
            case INVALID_ARG, DISK_INVAL, DISK_OUTOFRANGE -> 22;
            case FILE_READ_ONLY -> 30;
            case NOT_SUPPORTED -> 95;
            case HOST_TCP_CONN_LOST, HOST_NETWORK_CONN_REFUSED -> 108;
            case FILE_NOT_FOUND -> 2;
            case FILE_ACCESS_ERROR, AUTHENTICATION_FAIL -> 1;
            default -> 5;
        }).orElse(5);
    }

}
