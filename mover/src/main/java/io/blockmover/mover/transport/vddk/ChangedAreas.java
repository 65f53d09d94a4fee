package io.blockmover.mover.transport.vddk;

import io.blockmover.nbd.units.ByteRange;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Where a VDDK source learns what changed since a changeId: vSphere's QueryChangedDiskAreas
 * with a vCenter, the emulated host's control API without one. VDDK itself cannot tell.
 */
@FunctionalInterface
public interface ChangedAreas {
    /** Sorted, non-overlapping byte ranges over the whole disk ({@code capacity} bytes) written since {@code changeId}. */
    CompletableFuture<List<ByteRange>> since(String changeId, long capacity);
}
