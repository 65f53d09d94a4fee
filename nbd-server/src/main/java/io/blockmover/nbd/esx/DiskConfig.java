package io.blockmover.nbd.esx;

/**
 * What to create when adding a disk to a VM; the host assigns key, path and uuid.
 * {@code physicalRdm} makes it a physical-compatibility raw device mapping: not in snapshots, no CBT.
 */
public record DiskConfig(long capacity, Profile profile, DiskMode mode, boolean thin, boolean physicalRdm) {
    public DiskConfig(long capacity, Profile profile, DiskMode mode, boolean thin) {
        this(capacity, profile, mode, thin, false);
    }

    public static DiskConfig thin(long capacity, Profile profile) {
        return new DiskConfig(capacity, profile, DiskMode.PERSISTENT, true);
    }
}
