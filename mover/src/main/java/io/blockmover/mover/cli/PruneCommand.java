package io.blockmover.mover.cli;

import io.blockmover.index.maintenance.PruneReport;
import io.blockmover.index.maintenance.Pruner;
import io.blockmover.index.maintenance.Retention;
import io.blockmover.index.repo.Repository;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.ZoneId;
import java.util.concurrent.Callable;

/** {@code blockmover prune}: forgets backups outside the retention policy (space is freed by gc). */
@Command(name = "prune", mixinStandardHelpOptions = true,
        description = "Remove backups the retention policy does not keep (per VM); run gc afterwards to free space.")
final class PruneCommand implements Callable<Integer> {

    @Mixin
    RepositoryOptions repository;

    @Option(names = "--keep-last", paramLabel = "N", description = "Keep the N most recent backups.")
    int keepLast;

    @Option(names = "--keep-daily", paramLabel = "N", description = "Keep the last backup of each of the N most recent days.")
    int keepDaily;

    @Option(names = "--keep-weekly", paramLabel = "N", description = "... of each of the N most recent weeks.")
    int keepWeekly;

    @Option(names = "--keep-monthly", paramLabel = "N", description = "... of each of the N most recent months.")
    int keepMonthly;

    @Option(names = "--keep-yearly", paramLabel = "N", description = "... of each of the N most recent years.")
    int keepYearly;

    @Option(names = "--dry-run", description = "Only say what would be removed.")
    boolean dryRun;

    @Mixin
    JsonOption output;

    @Override
    public Integer call() throws Exception {
        Retention retention = new Retention(keepLast, keepDaily, keepWeekly, keepMonthly, keepYearly);
        try (Repository repo = repository.open()) {
            PruneReport r = new Pruner(repo).run(retention, ZoneId.systemDefault(), dryRun);
            if (output.json) {
                System.out.println(JsonWriter.write(r));
                return 0;
            }
            System.out.printf("%s %d backups %s, kept %d %s%n", dryRun ? "would remove" : "removed", r.removed().size(),
                    r.removed(), r.kept().size(), r.kept());
            for (PruneReport.InUse u : r.inUse()) {
                System.out.println(u + ": kept; a later prune removes it once released");
            }
            return 0;
        }
    }
}
