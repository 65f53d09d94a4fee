package io.blockmover.index;

import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.maintenance.IndexRebuilder;
import io.blockmover.index.maintenance.RebuildReport;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.RepositoryConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Format 2 changed only the index (the chunks CF became a PlainTable); packs are as in format 1.
 * A format-1 repository is refused with a message that names rebuild-index, which rebuilds its
 * index from the packs and upgrades the config; a format newer than this build's is refused by both.
 */
class FormatUpgradeTest {
    @TempDir
    Path dir;

    @Test
    void aFormat1RepositoryIsRefusedUntilRebuildIndexUpgradesIt() throws Exception {
        Path root = dir.resolve("r");
        LongUnaryOperator a = i -> 900 + i;
        long id;
        // Format 1 predates sub-chunk dedup.
        try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(Fixtures.CHUNK).withSubchunkDedup(false))) {
            id = Fixtures.backup(repo, "vmA", 20, a);
        }
        setFormatVersion(root, 1);
        RepositoryException e = assertThrows(RepositoryException.class, () -> Repository.open(root, null));
        assertTrue(e.getMessage().contains("format version 1") && e.getMessage().contains("run rebuild-index"), e.getMessage());
        e = assertThrows(RepositoryException.class, () -> Repository.openReadOnly(root, null));
        assertTrue(e.getMessage().contains("run rebuild-index"), e.getMessage());

        RebuildReport report = IndexRebuilder.rebuild(root);
        assertEquals(1, report.backupsRecovered(), report.toString());
        assertEquals(RepositoryConfig.PLAIN_FORMAT_VERSION, RepositoryConfig.read(root).formatVersion());
        try (Repository repo = Repository.open(root, null)) {
            Fixtures.assertRestores(repo, id, a);
            assertTrue(new Verifier(repo).run(1).ok());
        }
    }

    @Test
    void aNewerFormatIsRefusedEvenByRebuildIndex() throws Exception {
        Path root = dir.resolve("r");
        try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(Fixtures.CHUNK))) {
            Fixtures.backup(repo, "vmA", 2, i -> 5 + i);
        }
        setFormatVersion(root, RepositoryConfig.FORMAT_VERSION + 1);
        RepositoryException e = assertThrows(RepositoryException.class, () -> Repository.open(root, null));
        assertTrue(e.getMessage().contains("is not supported"), e.getMessage());
        e = assertThrows(RepositoryException.class, () -> IndexRebuilder.rebuild(root));
        assertTrue(e.getMessage().contains("is not supported"), e.getMessage());
    }

    private static void setFormatVersion(Path root, int version) throws Exception {
        Path config = root.resolve(RepositoryConfig.FILE);
        String text = Files.readString(config, StandardCharsets.UTF_8);
        String changed = text.replaceFirst("formatVersion=\\d+\n", "formatVersion=" + version + "\n");
        assertTrue(!changed.equals(text), "config has no formatVersion line");
        Files.writeString(config, changed, StandardCharsets.UTF_8);
    }
}
