package io.blockmover.mover.vsphere;

import java.util.Locale;

/** VCB's snapshot policies: who creates and who removes the snapshot a backup reads. */
public enum SnapshotPolicy {
    /** Create before the backup, remove after, even when the backup fails. */
    AUTOMATIC(true, true),
    /** Use an existing snapshot of the given name; leave it. */
    MANUAL(false, false),
    /** Create before the backup and leave it (removed only if the backup fails). */
    CREATEONLY(true, false),
    /** Use an existing snapshot of the given name and remove it after the backup. */
    DELETEONLY(false, true);

    private final boolean creates;
    private final boolean removes;

    SnapshotPolicy(boolean creates, boolean removes) {
        this.creates = creates;
        this.removes = removes;
    }

    public boolean creates() {
        return creates;
    }

    public boolean removes() {
        return removes;
    }

    public static SnapshotPolicy parse(String text) {
        try {
            return valueOf(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bad snapshot policy '" + text + "' (automatic, manual, createonly, deleteonly)");
        }
    }
}
