package io.blockmover.mover.cli;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.nbd.units.Sizes;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code blockmover show ID}: everything recorded about one backup. */
@Command(name = "show", mixinStandardHelpOptions = true, description = "Show one backup: its disks, changeIds and sizes.")
final class ShowCommand implements Callable<Integer> {

    @Mixin
    RepositoryOptions repository;

    @Parameters(index = "0", paramLabel = "ID", description = "The backup id (see 'blockmover list').")
    long id;

    @Mixin
    JsonOption output;

    @Override
    public Integer call() throws Exception {
        try (Repository repo = repository.openToLook()) {
            BackupRecord b = repo.backup(id).orElseThrow(() -> new IOException("no backup " + id + " in " + repo.root()));
            if (output.json) {
                System.out.println(JsonWriter.write(ListCommand.toJson(b)));
                return 0;
            }
            System.out.printf("backup %d of %s (%s)%n", b.id(), b.vmId(), ListCommand.type(b));
            if (!b.label().isEmpty()) {
                System.out.println("  label:     " + b.label());
            }
            System.out.println("  started:   " + b.started());
            System.out.println("  committed: " + b.committed());
            for (DiskRecord d : b.disks()) {
                System.out.printf(Locale.ROOT, "  disk %s: %s, chunk size %s, %d data chunks, %d zero chunks, %d new chunks (%s stored)%n",
                        d.diskId(), Sizes.human(d.capacity()), Sizes.human(d.chunkSize()), d.dataChunks(), d.zeroChunks(),
                        d.newChunks(), Sizes.human(d.newStoredBytes()));
                System.out.println("    changeId: " + (d.changeId().isEmpty() ? "(none)" : d.changeId()));
            }
            return 0;
        }
    }
}
