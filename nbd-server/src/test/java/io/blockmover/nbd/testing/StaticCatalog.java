package io.blockmover.nbd.testing;

import io.blockmover.nbd.server.ExportCatalog;

import java.util.List;
import java.util.Optional;

/** A fixed list of exports; the first one is also the default export (empty name). */
public record StaticCatalog(List<Export> exports) implements ExportCatalog {
    public StaticCatalog {
        exports = List.copyOf(exports);
    }

    public static StaticCatalog of(Export... exports) {
        return new StaticCatalog(List.of(exports));
    }

    @Override
    public Optional<Export> find(String name) {
        if (name.isEmpty()) {
            return exports.stream().findFirst();
        }
        return exports.stream().filter(e -> e.name().equals(name)).findFirst();
    }

    @Override
    public List<Export> list() {
        return exports;
    }
}
