package io.blockmover.nbd.server;

import java.io.IOException;
import java.util.List;

/** A meta context selected with SET_META_CONTEXT: its id on this connection, name and source. */
record ActiveContext(int id, String name, Source source) {

    /** Where a context's extents come from: the device's allocation or a device-defined context. */
    @FunctionalInterface
    interface Source {
        List<Extent> status(long offset, long length) throws IOException;
    }
}
