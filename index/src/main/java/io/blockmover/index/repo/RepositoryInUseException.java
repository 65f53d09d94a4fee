package io.blockmover.index.repo;

import io.blockmover.index.format.RepositoryException;

import java.nio.file.Path;

/** Another process (or another open in this one) holds the repository's lock. */
public final class RepositoryInUseException extends RepositoryException {
    public RepositoryInUseException(Path root, String holder) {
        this(root.toString(), holder);
    }

    public RepositoryInUseException(String repository, String holder) {
        super("repository " + repository + " is in use by " + holder);
    }
}
