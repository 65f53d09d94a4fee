package io.blockmover.nbd.esx;

/**
 * A generated host: {@code vms} VMs named {@code vm01, vm02, ...}, each with {@code disksPerVm}
 * thin persistent disks (device keys 2000, 2001, ...) of {@code diskSize} bytes, content from
 * {@code profile} and {@code seed}, CBT enabled when {@code cbt}. The last
 * {@code independentDisksPerVm} disks of each VM are {@code independent_persistent} (never in a
 * snapshot, no CBT), as a backup must skip them; the {@code rdmDisksPerVm} before them are
 * physical-mode raw device mappings, skipped likewise.
 */
public record HostSpec(long seed, int vms, int disksPerVm, long diskSize, Profile profile, boolean cbt,
                       int independentDisksPerVm, int rdmDisksPerVm) {

    public HostSpec(long seed, int vms, int disksPerVm, long diskSize, Profile profile, boolean cbt,
                    int independentDisksPerVm) {
        this(seed, vms, disksPerVm, diskSize, profile, cbt, independentDisksPerVm, 0);
    }

    public HostSpec(long seed, int vms, int disksPerVm, long diskSize, Profile profile, boolean cbt) {
        this(seed, vms, disksPerVm, diskSize, profile, cbt, 0);
    }

    public HostSpec {
        if (vms < 0 || vms > 9999) {
            throw new IllegalArgumentException("number of VMs must be 0..9999: " + vms);
        }
        if (disksPerVm < 1 || disksPerVm > 60) {
            throw new IllegalArgumentException("disks per VM must be 1..60: " + disksPerVm);
        }
        if (independentDisksPerVm < 0 || independentDisksPerVm > disksPerVm) {
            throw new IllegalArgumentException("independent disks per VM must be 0.." + disksPerVm + ": "
                    + independentDisksPerVm);
        }
        if (rdmDisksPerVm < 0 || rdmDisksPerVm > disksPerVm - independentDisksPerVm) {
            throw new IllegalArgumentException("physical RDMs per VM must be 0.." + (disksPerVm - independentDisksPerVm)
                    + ": " + rdmDisksPerVm);
        }
        if (diskSize <= 0) {
            throw new IllegalArgumentException("disk size must be positive: " + diskSize);
        }
    }
}
