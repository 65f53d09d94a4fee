package io.blockmover.mover.cli;

import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.GcReport;
import io.blockmover.index.repo.Repository;
import io.blockmover.nbd.units.Sizes;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code blockmover gc}: deletes chunks no backup uses and compacts sparse packs. */
@Command(name = "gc", mixinStandardHelpOptions = true,
        description = "Free the space of chunks no backup uses; compact packs that are mostly garbage.")
final class GcCommand implements Callable<Integer> {

    @Mixin
    RepositoryOptions repository;

    @Option(names = "--grace", paramLabel = "MINUTES", description = "Keep unreferenced data younger than this, "
            + "which a backup still being written may need (default ${DEFAULT-VALUE}).")
    long graceMinutes = GcOptions.defaults().grace().toMinutes();

    @Option(names = "--compact-below", paramLabel = "FRACTION",
            description = "Rewrite packs whose live fraction is below this (default ${DEFAULT-VALUE}).")
    double compactBelow = GcOptions.defaults().compactBelow();

    @Mixin
    JsonOption output;

    @Override
    public Integer call() throws Exception {
        try (Repository repo = repository.open()) {
            GcReport r = new GarbageCollector(repo).run(GcOptions.defaults()
                    .withGrace(Duration.ofMinutes(graceMinutes)).withCompactBelow(compactBelow));
            if (output.json) {
                System.out.println(JsonWriter.write(r));
                return 0;
            }
            System.out.printf(Locale.ROOT, "gc: %d live chunks; deleted %d chunk entries and %d packs, compacted %d packs, "
                            + "%d packs kept for the grace window; freed %s%n", r.liveChunks(), r.deletedChunkEntries(),
                    r.deletedPacks(), r.compactedPacks(), r.keptForGrace(), Sizes.human(r.freedBytes()));
            return 0;
        }
    }
}
