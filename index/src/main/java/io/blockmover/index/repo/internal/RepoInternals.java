package io.blockmover.index.repo.internal;

import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.repo.Repository;

import java.util.function.Function;

/**
 * How this module's maintenance classes (and its tests) reach the shared parts of an open
 * repository without {@link Repository} making them public: Repository hands over its one
 * accessor when its class is initialised, as the JDK's own SharedSecrets do. This package is not
 * exported by module-info, and the layering test keeps mover and bench out of it.
 */
public final class RepoInternals {
    private static volatile Function<Repository, RepoContext> access;

    private RepoInternals() {
    }

    /** Called once, by Repository's static initialiser. */
    public static void grant(Function<Repository, RepoContext> accessor) {
        if (access != null) {
            throw new IllegalStateException("repository internals are already granted");
        }
        access = accessor;
    }

    /** The shared state of {@code repo} (its class is initialised: an instance exists). */
    public static RepoContext context(Repository repo) {
        return access.apply(repo);
    }
}
