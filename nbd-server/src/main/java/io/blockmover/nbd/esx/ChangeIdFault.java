package io.blockmover.nbd.esx;

/**
 * A changed-areas query refused, as vSphere answers {@code QueryChangedDiskAreas} with a
 * {@code FileFault}: the caller must fall back to a full backup.
 */
public final class ChangeIdFault extends Exception {

    /** Why the changeId cannot be used. */
    public enum Reason {
        MALFORMED,
        /** The changeId names another disk. */
        OTHER_DISK,
        /** Change tracking is off on this disk. */
        CBT_DISABLED,
        /** The changeId predates the (last) enabling of CBT, e.g. after a CBT reset. */
        BEFORE_CBT_ENABLED,
        /** The changeId is later than the state being asked about. */
        UNKNOWN_SEQUENCE
    }

    private final Reason reason;
    private final String changeId;

    public ChangeIdFault(Reason reason, String changeId, String message) {
        super("FileFault: " + message + " (changeId '" + changeId + "')");
        this.reason = reason;
        this.changeId = changeId;
    }

    public Reason reason() {
        return reason;
    }

    public String changeId() {
        return changeId;
    }
}
