package io.blockmover.nbd.server;

import java.util.List;

/** What a connection negotiated before transmission: the export, reply style and meta contexts. */
record Session(long connectionId, ExportCatalog.Export export, boolean structuredReplies, List<ActiveContext> contexts) {
    BlockDevice device() {
        return export.device();
    }
}
