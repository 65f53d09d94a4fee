package io.blockmover.mover.cli;

import io.blockmover.index.maintenance.IndexRebuilder;
import io.blockmover.index.maintenance.RebuildReport;
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
        // In a bucket as on a disk the packs are the record: the scan becomes the bucket's index and this proxy's cache.
        RebuildReport r = repository.inObjectStore() ? S3Repository.rebuildFromPacks(repository.access(), repository.passphrase())
                : IndexRebuilder.rebuild(repository.directory(), repository.passphrase());
        System.out.printf("scanned %d packs: %d chunk records (%d damaged), %d backups recovered%n",
                r.packsScanned(), r.chunkRecords(), r.damagedRecords(), r.backupsRecovered());
        r.problems().forEach(p -> System.out.println("PROBLEM " + p));
        return r.problems().isEmpty() && r.damagedRecords() == 0 ? 0 : VerifyCommand.FOUND_PROBLEMS;
    }
}
