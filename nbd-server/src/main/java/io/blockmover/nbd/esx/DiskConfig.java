package io.blockmover.nbd.esx;

/** What to create when adding a disk to a VM; the host assigns key, path and uuid. */
public record DiskConfig(long capacity, Profile profile, DiskMode mode, boolean thin) {
    public static DiskConfig thin(long capacity, Profile profile) {
        return new DiskConfig(capacity, profile, DiskMode.PERSISTENT, true);
    }
}
