package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.Extent;

import java.util.ArrayList;
import java.util.List;

/** Collects consecutive extents, merging neighbours with equal flags. */
final class ExtentBuilder {
    private final List<Extent> extents = new ArrayList<>();
    private long pendingLength;
    private int pendingFlags = -1;

    void add(long length, int flags) {
        if (length <= 0) {
            return;
        }
        if (flags == pendingFlags) {
            pendingLength += length;
            return;
        }
        flushPending();
        pendingFlags = flags;
        pendingLength = length;
    }

    /** Number of extents so far, counting the one still being merged. */
    int size() {
        return extents.size() + (pendingFlags >= 0 ? 1 : 0);
    }

    List<Extent> build() {
        flushPending();
        return extents;
    }

    private void flushPending() {
        if (pendingFlags >= 0) {
            extents.add(new Extent(pendingLength, pendingFlags));
            pendingFlags = -1;
        }
    }
}
