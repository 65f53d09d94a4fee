package io.blockmover.mover.cli;

import io.blockmover.mover.pipeline.UserMessages;

import io.blockmover.index.repo.Repository;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the repository is and how to unlock it. The passphrase of an encrypted repository
 * comes from a file or from {@code BLOCKMOVER_PASSPHRASE}, never from the command line, where
 * other users could read it in the process list.
 */
final class RepositoryOptions {
    static final String PASSPHRASE_ENV = "BLOCKMOVER_PASSPHRASE";

    @Option(names = "--repo", paramLabel = "DIR", defaultValue = "${env:BLOCKMOVER_REPO:-data}",
            description = "Repository directory (default: $BLOCKMOVER_REPO, else ./data).")
    Path repo;

    @Option(names = "--passphrase-file", paramLabel = "FILE",
            description = "File holding the passphrase of an encrypted repository (else $" + PASSPHRASE_ENV + ").")
    Path passphraseFile;

    /** The passphrase if one was given, else null (an unencrypted repository needs none). */
    char[] passphrase() throws IOException {
        if (passphraseFile != null) {
            try {
                return Files.readString(passphraseFile, StandardCharsets.UTF_8).strip().toCharArray();
            } catch (IOException e) {
                throw new IOException("reading the passphrase file " + passphraseFile + ": " + UserMessages.describe(e), e);
            }
        }
        String env = System.getenv(PASSPHRASE_ENV);
        return env == null || env.isEmpty() ? null : env.toCharArray();
    }

    Repository open() throws IOException {
        checkExists();
        return Repository.open(repo, passphrase());
    }

    /**
     * Without the repository's lock, for commands that only read the catalog: they work beside a
     * process that writes (a backup, or the proxy, which holds the lock as long as it runs) and
     * see what was committed when they opened.
     */
    Repository openToLook() throws IOException {
        checkExists();
        return Repository.openReadOnly(repo, passphrase());
    }

    private void checkExists() throws IOException {
        if (!Files.isDirectory(repo)) {
            throw new IOException("no repository at " + repo.toAbsolutePath() + "; create one with 'blockmover init --repo " + repo + "'");
        }
    }
}
