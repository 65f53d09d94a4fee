package io.blockmover.bench.e2e;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The bench's groups of steps, each one issue's comparison, in the order a whole run takes them.
 * {@code --phases} picks some; a phase always runs with what it compares against (the steps its
 * ratios divide by), so its figures mean the same alone as in a whole run.
 */
enum Phase {
    /** nbdcopy, restic and borg against the CLI's full, incremental, restore and verify, reference image. */
    REFERENCE,
    /** The VDDK transport (the FFM bridge and the test fixture) against the NBD transport, same snapshot. */
    VDDK,
    /** Instant restore: {@code blockmover export} of the CLI's backups against the snapshot, and fio's random reads. */
    EXPORT,
    /**
     * Full, incremental and restore with the repository in s3proxy, by the CLI and through a warm
     * proxy, against the same into a local repository (the CLI's and the warm proxy's), and restic's
     * restore from the same s3proxy.
     */
    S3,
    /** Full, incremental and restore through a warm {@code blockmover serve}, against the CLI's peers. */
    PROXY,
    /**
     * An ext4 guest disk served by qemu-nbd: blockmover (CLI and warm proxy, each codec asked for)
     * against restic, borg lz4 and zstd,3 and nbdcopy: full, incremental after a change inside the
     * file system, restore, repository size, CPU-seconds per GiB.
     */
    FILESYSTEM,
    /** A whole VM job through the emulated vCenter, and its control plane. */
    VSPHERE,
    /** The emulated host against nbdkit, cold nbd-copy (plain, TLS, a large mixed disk), a large mixed backup. */
    EMULATOR;

    /** Phases that read the reference image as a VM disk of the emulated host. */
    static final Set<Phase> ON_REFERENCE_IMAGE = EnumSet.of(REFERENCE, VDDK, EXPORT, S3, PROXY);

    /** The name {@code --phases} takes and the JSON records. */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
