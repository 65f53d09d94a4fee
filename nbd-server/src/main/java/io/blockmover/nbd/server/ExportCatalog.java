package io.blockmover.nbd.server;

import java.util.List;
import java.util.Optional;

/** The exports a server offers. May change while the server runs (snapshots come and go). */
public interface ExportCatalog {

    /** The export of that name; the empty name means the default export, if there is one. */
    Optional<Export> find(String name);

    /** Every export, in the order NBD_OPT_LIST reports them. */
    List<Export> list();

    /** One named export. */
    record Export(String name, String description, BlockDevice device) {}
}
