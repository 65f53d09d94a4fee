package io.blockmover.nativebridge.vddk;

import java.util.Optional;

/** The VixError codes blockmover reacts to (the code is {@code VixError & 0xFFFF}). */
public enum VixErrorCode {
    OK(0),
    FAIL(1),
    OUT_OF_MEMORY(2),
    INVALID_ARG(3),
    FILE_NOT_FOUND(4),
    NOT_SUPPORTED(6),
    FILE_ERROR(7),
    FILE_READ_ONLY(11),
    FILE_ACCESS_ERROR(13),
    AUTHENTICATION_FAIL(35),
    SNAPSHOT_INDEPENDENTDISK(13016),
    HOST_NETWORK_CONN_REFUSED(14009),
    HOST_TCP_CONN_LOST(14011),
    DISK_INVAL(16000),
    DISK_OUTOFRANGE(16007),
    /** Not an error: ReadAsync/WriteAsync accepted the request. */
    ASYNC(25000);

    private final int code;

    VixErrorCode(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    public static Optional<VixErrorCode> of(long vixError) {
        int code = (int) (vixError & 0xFFFF);
        for (VixErrorCode c : values()) {
            if (c.code == code) {
                return Optional.of(c);
            }
        }
        return Optional.empty();
    }

    /** VDDK's spelling, e.g. {@code VIX_E_FILE_ERROR}, or the bare number for a code not listed here. */
    public static String name(long vixError) {
        return of(vixError).map(c -> c == ASYNC ? "VIX_ASYNC" : "VIX_E_" + c.name()).orElse("VixError " + (vixError & 0xFFFF));
    }
}
