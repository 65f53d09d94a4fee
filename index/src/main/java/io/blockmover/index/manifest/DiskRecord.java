package io.blockmover.index.manifest;

/**
 * One disk of a backup: identity, geometry, the CBT changeId it was taken at, and counts that
 * make stats cheap. Its manifest is {@code segments()} values in the manifests column family.
 */
public record DiskRecord(int index, String diskId, long capacity, int chunkSize, String changeId,
                         long dataChunks, long zeroChunks, long newChunks, long newStoredBytes) {

    public long chunkCount() {
        return chunkCount(capacity, chunkSize);
    }

    public int segments() {
        return ManifestKeys.segments(chunkCount());
    }

    public static long chunkCount(long capacity, int chunkSize) {
        return (capacity + chunkSize - 1) / chunkSize;
    }

    /** Length of the chunk at {@code index}: the last one may be short. */
    public int chunkLength(long chunkIndex) {
        long start = chunkIndex * chunkSize;
        return (int) Math.min(chunkSize, capacity - start);
    }
}
