package io.blockmover.nativebridge.vddk;

import java.io.IOException;
import java.util.Optional;

/**
 * A VixDiskLib call answered an error: its code, VDDK's own text for it (GetErrorText) and the
 * call that failed. The message reads like VDDK's log: {@code Read: VIX_E_FILE_ERROR (7): A file ...}.
 */
public class VixException extends IOException {
    private final String operation;
    private final long vixError;
    private final String text;

    public VixException(String operation, long vixError, String text) {
        super(operation + ": " + VixErrorCode.name(vixError) + " (" + (vixError & 0xFFFF) + "): " + text);
        this.operation = operation;
        this.vixError = vixError;
        this.text = text;
    }

    public String operation() {
        return operation;
    }

    /** The code part of the VixError (its low 16 bits). */
    public int code() {
        return (int) (vixError & 0xFFFF);
    }

    public Optional<VixErrorCode> known() {
        return VixErrorCode.of(vixError);
    }

    public boolean is(VixErrorCode code) {
        return code() == code.code();
    }

    /** VDDK's text for the code, as GetErrorText returned it. */
    public String text() {
        return text;
    }
}
