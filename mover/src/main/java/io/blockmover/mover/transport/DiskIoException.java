package io.blockmover.mover.transport;

import java.io.IOException;

/**
 * The disk (not the connection) failed one request: the server answered the range
 * [offset, offset + length) with an error. The connection stays usable; the job decides
 * whether the disk is lost.
 */
public class DiskIoException extends IOException {
    private final long offset;
    private final long length;
    private final int errno;

    public DiskIoException(String operation, long offset, long length, int errno, String detail) {
        super(operation + " of " + length + " bytes at offset " + offset + " failed: "
                + ErrnoNames.describe(errno) + (detail == null || detail.isBlank() ? "" : " (" + detail + ")"));
        this.offset = offset;
        this.length = length;
        this.errno = errno;
    }

    public long offset() {
        return offset;
    }

    public long length() {
        return length;
    }

    /** The POSIX-style error number the transport reported (NBD and VDDK errors are mapped). */
    public int errno() {
        return errno;
    }
}
