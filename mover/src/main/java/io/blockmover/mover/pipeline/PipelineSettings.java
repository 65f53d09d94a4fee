package io.blockmover.mover.pipeline;

/**
 * How much a job does at once.
 *
 * @param chunksInFlight chunks read or being processed at once, per disk: the memory bound is
 *                       this times the chunk size
 * @param workers        threads that hash, compress and store (or fetch and write on restore)
 * @param parallelDisks  disks of one VM handled at once
 */
public record PipelineSettings(int chunksInFlight, int workers, int parallelDisks) {
    // Two workers per core: besides hashing and compressing they wait on pack writes and fsync.
    public static final PipelineSettings DEFAULT = new PipelineSettings(64, 2 * Runtime.getRuntime().availableProcessors(), 2);

    public PipelineSettings {
        if (chunksInFlight < 1 || chunksInFlight > 4096) {
            throw new IllegalArgumentException("chunks in flight must be 1..4096: " + chunksInFlight);
        }
        if (workers < 1 || workers > 256) {
            throw new IllegalArgumentException("workers must be 1..256: " + workers);
        }
        if (parallelDisks < 1 || parallelDisks > 64) {
            throw new IllegalArgumentException("parallel disks must be 1..64: " + parallelDisks);
        }
    }
}
