package io.blockmover.mover.cli;

import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.transport.nbd.NbdTuning;
import picocli.CommandLine.Option;

/** How much a backup, restore or verify does at once. */
final class PipelineOptions {
    @Option(names = "--chunks-in-flight", paramLabel = "N",
            description = "Chunks being read or processed at once per disk; memory is about N × chunk size (default ${DEFAULT-VALUE}).")
    int chunksInFlight = PipelineSettings.DEFAULT.chunksInFlight();

    @Option(names = "--workers", paramLabel = "N", description = "Threads that hash, compress and store (default: two per core, ${DEFAULT-VALUE}).")
    int workers = PipelineSettings.DEFAULT.workers();

    @Option(names = "--parallel-disks", paramLabel = "N", description = "Disks handled at once (default ${DEFAULT-VALUE}).")
    int parallelDisks = PipelineSettings.DEFAULT.parallelDisks();

    @Option(names = "--connections", paramLabel = "N",
            description = "NBD connections per disk when the server allows several (default ${DEFAULT-VALUE}).")
    int connections = NbdTuning.DEFAULT_CONNECTIONS;

    PipelineSettings settings() {
        return new PipelineSettings(chunksInFlight, workers, parallelDisks);
    }
}
