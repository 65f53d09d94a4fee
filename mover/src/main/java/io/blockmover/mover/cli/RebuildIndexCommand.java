package io.blockmover.mover.cli;

import io.blockmover.index.maintenance.IndexRebuilder;
import io.blockmover.index.maintenance.RebuildReport;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.s3.S3Repository;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;

/** {@code blockmover rebuild-index}: a new index from the pack files alone, after the index was lost or damaged. */
@Command(name = "rebuild-index", mixinStandardHelpOptions = true,
        description = "Rebuild the repository index from its pack files (after the index was lost or damaged).")
final class RebuildIndexCommand implements Callable<Integer> {

    @Mixin
    RepositoryOptions repository;

    @Override
    public Integer call() throws Exception {
        if (repository.inObjectStore()) {
            // The bucket's own index segments and manifest packs are the record; the local index is a cache of them.
            try (Repository repo = S3Repository.rebuildIndex(repository.access(), repository.passphrase())) {
                System.out.printf("rebuilt the local index of %s from the bucket: %d backups%n", repository.describe(), repo.backups().size());
            }
            return 0;
        }
        RebuildReport r = IndexRebuilder.rebuild(repository.directory(), repository.passphrase());
        System.out.printf("scanned %d packs: %d chunk records (%d damaged), %d backups recovered%n",
                r.packsScanned(), r.chunkRecords(), r.damagedRecords(), r.backupsRecovered());
        r.problems().forEach(p -> System.out.println("PROBLEM " + p));
        return r.problems().isEmpty() && r.damagedRecords() == 0 ? 0 : VerifyCommand.FOUND_PROBLEMS;
    }
}
