package io.blockmover.nbd.esx;

/**
 * The configuration of one virtual disk, as a VM's {@code config.hardware.device} shows it.
 *
 * @param deviceKey     the device key, e.g. 2000
 * @param fileName      the datastore path, e.g. {@code [datastore1] web01/web01.vmdk}
 * @param capacity      bytes
 * @param uuid          the backing's uuid, also the first half of every changeId of the disk
 * @param physicalRdm   a physical-mode raw device mapping: snapshots cannot freeze it, CBT cannot track it
 */
public record DiskSpec(int deviceKey, String fileName, long capacity, boolean thin, DiskMode mode, String uuid,
                       boolean physicalRdm) {
    public DiskSpec(int deviceKey, String fileName, long capacity, boolean thin, DiskMode mode, String uuid) {
        this(deviceKey, fileName, capacity, thin, mode, uuid, false);
    }

    /** Whether a snapshot freezes this disk (independent disks and physical RDMs stay live). */
    public boolean snapshotted() {
        return !mode.independent() && !physicalRdm;
    }

    public DiskSpec {
        if (capacity <= 0) {
            throw new IllegalArgumentException("disk capacity must be positive: " + capacity);
        }
        if (uuid.isEmpty() || uuid.contains("/")) {
            throw new IllegalArgumentException("bad disk uuid: " + uuid);
        }
    }
}
