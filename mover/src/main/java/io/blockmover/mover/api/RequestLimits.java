package io.blockmover.mover.api;

import io.blockmover.index.manifest.Names;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.mover.api.v1.VerifyRequest;

import java.nio.charset.StandardCharsets;

/**
 * Bounds on what one request may ask, checked before any work starts: a 100 KB VM name used to
 * run a whole backup and fail only at its commit. Names follow {@link Names}; the message itself
 * is bounded by the server ({@link #MAX_MESSAGE_BYTES}) before it is even parsed.
 */
public final class RequestLimits {
    /** A request is a few names and URIs; gRPC's default of 4 MiB would only feed the parser. */
    public static final int MAX_MESSAGE_BYTES = 64 << 10;
    public static final int MAX_DISKS = 64;
    /** A URI with its TLS options and socket path. */
    public static final int MAX_URI_BYTES = 4096;
    public static final int MAX_TEXT_BYTES = Names.MAX_LABEL_BYTES;

    private RequestLimits() {}

    public static void check(BackupRequest r) {
        Names.check("VM name", r.getVm());
        Names.checkLabel(r.getLabel());
        if (r.getDisksCount() == 0) {
            throw new IllegalArgumentException("a backup needs at least one disk");
        }
        if (r.getDisksCount() > MAX_DISKS) {
            throw new IllegalArgumentException("a backup of " + r.getDisksCount() + " disks; at most " + MAX_DISKS);
        }
        for (DiskSource d : r.getDisksList()) {
            Names.check("disk name", d.getDisk());
            bounded("the source URI", d.getUri(), MAX_URI_BYTES);
            bounded("the changeId", d.getChangeId(), MAX_TEXT_BYTES);
            bounded("the changes context", d.getChangesContext(), MAX_TEXT_BYTES);
        }
    }

    /**
     * Names that select a backup are only compared, never turned into paths: a repository may hold
     * names from before they were checked, so only their length is bounded here.
     */
    /** A backup by vm_selector names no disks; the VM's name comes from vCenter and is checked once found. */
    public static void checkBySelector(BackupRequest r) {
        Names.checkLabel(r.getLabel());
        bounded("the VM selector", r.getVmSelector(), MAX_TEXT_BYTES);
        bounded("the snapshot name", r.getSnapshotName(), MAX_TEXT_BYTES);
    }

    public static void check(RestoreRequest r) {
        bounded("the VM name", r.getVm(), Names.MAX_BYTES);
        bounded("the disk name", r.getDisk(), Names.MAX_BYTES);
        bounded("the target", r.getTarget(), MAX_URI_BYTES);
    }

    public static void check(VerifyRequest r) {
        bounded("the disk name", r.getDisk(), Names.MAX_BYTES);
        bounded("the source URI", r.getAgainstUri(), MAX_URI_BYTES);
    }

    private static void bounded(String what, String value, int maxBytes) {
        int bytes = value.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > maxBytes) {
            throw new IllegalArgumentException(what + " is " + bytes + " bytes long; at most " + maxBytes);
        }
    }
}
