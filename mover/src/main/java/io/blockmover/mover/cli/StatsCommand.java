package io.blockmover.mover.cli;

import io.blockmover.index.maintenance.RepositoryStats;
import io.blockmover.index.repo.Repository;
import io.blockmover.nbd.units.Sizes;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code blockmover stats}: how much the repository holds and what deduplication and compression saved. */
@Command(name = "stats", mixinStandardHelpOptions = true, description = "Sizes of the repository, dedup and compression ratios.")
final class StatsCommand implements Callable<Integer> {

    @Mixin
    RepositoryOptions repository;

    @Mixin
    JsonOption output;

    @Override
    public Integer call() throws Exception {
        try (Repository repo = repository.openToLook()) {
            RepositoryStats s = RepositoryStats.of(repo);
            if (output.json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("backups", s.backups());
                m.put("logicalBytes", s.logicalBytes());
                m.put("dataBytes", s.dataBytes());
                m.put("uniqueChunks", s.uniqueChunks());
                m.put("uniqueBytes", s.uniqueBytes());
                m.put("storedBytes", s.storedBytes());
                m.put("packs", s.packs());
                m.put("packBytes", s.packBytes());
                m.put("framedChunks", s.framedChunks());
                m.put("recipeChunks", s.recipeChunks());
                m.put("dedupRatio", s.dedupRatio());
                m.put("compressionRatio", s.compressionRatio());
                System.out.println(JsonWriter.write(m));
                return 0;
            }
            System.out.printf(Locale.ROOT, "backups:            %d%n", s.backups());
            System.out.printf(Locale.ROOT, "logical size:       %s (all disks of all backups)%n", Sizes.human(s.logicalBytes()));
            System.out.printf(Locale.ROOT, "non-zero data:      %s%n", Sizes.human(s.dataBytes()));
            System.out.printf(Locale.ROOT, "unique data:        %s in %d chunks (dedup %.2fx)%n", Sizes.human(s.uniqueBytes()),
                    s.uniqueChunks(), s.dedupRatio());
            System.out.printf(Locale.ROOT, "stored:             %s (compression %.2fx)%n", Sizes.human(s.storedBytes()), s.compressionRatio());
            if (s.framedChunks() > 0 || s.recipeChunks() > 0) {
                System.out.printf(Locale.ROOT, "chunks in frames:   %d; as recipes of 4 KiB runs: %d%n", s.framedChunks(), s.recipeChunks());
            }
            System.out.printf(Locale.ROOT, "pack files:         %d, %s on disk%n", s.packs(), Sizes.human(s.packBytes()));
            double overall = s.packBytes() == 0 ? 1 : (double) s.logicalBytes() / s.packBytes();
            System.out.printf(Locale.ROOT, "overall:            %.1fx smaller than the disks%n", overall);
            return 0;
        }
    }
}
