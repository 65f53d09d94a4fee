package io.blockmover.index.maintenance;

/** What gc did; {@code packBytesBefore - packBytesAfter} is the space it gave back. */
public record GcReport(long liveChunks, long deletedChunkEntries, int deletedPacks, int compactedPacks, int keptForGrace,
                       long orphanSegmentsDeleted, long packBytesBefore, long packBytesAfter) {
    public long freedBytes() {
        return packBytesBefore - packBytesAfter;
    }
}
