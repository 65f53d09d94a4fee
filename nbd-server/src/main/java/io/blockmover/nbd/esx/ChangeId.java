package io.blockmover.nbd.esx;

/**
 * A point in a disk's change history, written {@code <disk uuid>/<sequence>} like the changeIds
 * vSphere reports on a disk backing. Every grain written after this point carries a larger tag.
 */
public record ChangeId(String diskUuid, long sequence) {

    public ChangeId {
        if (diskUuid.isEmpty() || diskUuid.contains("/")) {
            throw new IllegalArgumentException("bad disk uuid in changeId: " + diskUuid);
        }
        if (sequence < 0) {
            throw new IllegalArgumentException("negative changeId sequence: " + sequence);
        }
    }

    /** Parses {@code <uuid>/<sequence>}. */
    public static ChangeId parse(String text) throws ChangeIdFault {
        int slash = text.lastIndexOf('/');
        if (slash <= 0 || slash == text.length() - 1) {
            throw new ChangeIdFault(ChangeIdFault.Reason.MALFORMED, text, "changeId must look like <disk uuid>/<sequence>");
        }
        try {
            return new ChangeId(text.substring(0, slash), Long.parseLong(text.substring(slash + 1)));
        } catch (IllegalArgumentException e) {
            throw new ChangeIdFault(ChangeIdFault.Reason.MALFORMED, text, "changeId must look like <disk uuid>/<sequence>");
        }
    }

    @Override
    public String toString() {
        return diskUuid + "/" + sequence;
    }
}
