package io.blockmover.mover.pipeline;

/**
 * Told of each disk's counters as soon as a job starts moving it, so a front end can show
 * progress (the CLI's bars, the API's progress events) while the job runs.
 */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = (disk, counters) -> { };

    void track(String diskId, TransferCounters counters);
}
