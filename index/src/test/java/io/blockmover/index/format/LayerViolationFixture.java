package io.blockmover.index.format;

import io.blockmover.index.repo.Repository;

/** An upward import (format to repo) that LayersTest must catch; test code, never shipped. */
final class LayerViolationFixture {
    private LayerViolationFixture() {
    }

    static String rootOf(Repository repo) {
        return repo.root().toString();
    }
}
