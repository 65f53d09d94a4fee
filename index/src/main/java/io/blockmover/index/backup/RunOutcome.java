package io.blockmover.index.backup;

/**
 * What {@link DiskWriter#putRun} did with a run of chunks: per kind, chunks and plaintext bytes,
 * and the bytes the new ones added to packs.
 */
public record RunOutcome(int zeroChunks, long zeroBytes, int duplicateChunks, long duplicateBytes, int newChunks, long newBytes,
                         long storedBytes) {
}
