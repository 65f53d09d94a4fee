package io.blockmover.nbd.esx;

/**
 * A point in a disk's change history, written {@code <tracking id>/<sequence>} like the changeIds
 * vSphere reports on a disk backing. The tracking id names one period of change tracking on one
 * disk: it is new whenever tracking is (re)enabled, including when the host starts, so a changeId
 * from before a reset or a restart is refused rather than trusted. Every grain written after this
 * point carries a larger sequence.
 */
public record ChangeId(String trackingId, long sequence) {

    public ChangeId {
        if (trackingId.isEmpty() || trackingId.contains("/")) {
            throw new IllegalArgumentException("bad tracking id in changeId: " + trackingId);
        }
        if (sequence < 0) {
            throw new IllegalArgumentException("negative changeId sequence: " + sequence);
        }
    }

    /** Parses {@code <uuid>/<sequence>}. */
    public static ChangeId parse(String text) throws ChangeIdFault {
        int slash = text.lastIndexOf('/');
        if (slash <= 0 || slash == text.length() - 1) {
            throw new ChangeIdFault(ChangeIdFault.Reason.MALFORMED, text, "changeId must look like <tracking id>/<sequence>");
        }
        try {
            return new ChangeId(text.substring(0, slash), Long.parseLong(text.substring(slash + 1)));
        } catch (IllegalArgumentException e) {
            throw new ChangeIdFault(ChangeIdFault.Reason.MALFORMED, text, "changeId must look like <tracking id>/<sequence>");
        }
    }

    @Override
    public String toString() {
        return trackingId + "/" + sequence;
    }
}
