package io.blockmover.index.maintenance;

import java.util.List;

/** A chunk that cannot be read back exactly, why, and every place that uses it. */
public record DamagedChunk(String chunkId, String reason, List<ChunkRef> usedBy) {
    public DamagedChunk {
        usedBy = List.copyOf(usedBy);
    }
}
