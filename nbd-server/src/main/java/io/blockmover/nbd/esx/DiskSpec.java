package io.blockmover.nbd.esx;

/**
 * The configuration of one virtual disk, as a VM's {@code config.hardware.device} shows it.
 *
 * @param deviceKey     the device key, e.g. 2000
 * @param fileName      the datastore path, e.g. {@code [datastore1] web01/web01.vmdk}
 * @param capacity      bytes
 * @param uuid          the backing's uuid, also the first half of every changeId of the disk
 */
public record DiskSpec(int deviceKey, String fileName, long capacity, boolean thin, DiskMode mode, String uuid) {
    public DiskSpec {
        if (capacity <= 0) {
            throw new IllegalArgumentException("disk capacity must be positive: " + capacity);
        }
        if (uuid.isEmpty() || uuid.contains("/")) {
            throw new IllegalArgumentException("bad disk uuid: " + uuid);
        }
    }
}
