package io.blockmover.index.maintenance;

/**
 * What gc did; {@code packBytesBefore - packBytesAfter} is the space it gave back.
 * {@code deferredPacks}: packs left unused but not yet deleted because restores or verifies opened
 * before gc were still running when it gave up waiting; the next gc deletes them.
 */
public record GcReport(long liveChunks, long deletedChunkEntries, int deletedPacks, int compactedPacks, int keptForGrace,
                       long orphanSegmentsDeleted, long packBytesBefore, long packBytesAfter, int deferredPacks) {
    public long freedBytes() {
        return packBytesBefore - packBytesAfter;
    }
}
