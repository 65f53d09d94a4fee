package io.blockmover.nbd.server;

import java.io.IOException;
import java.util.List;

/** A block-status meta context beyond {@code base:allocation}, answered by a device. */
public interface StatusContext {

    /** The full context name as negotiated, e.g. {@code blockmover:changed:<changeId>}. */
    String name();

    /** Consecutive extents from {@code offset}, covering at least its first byte, within the range. */
    List<Extent> status(long offset, long length) throws IOException;
}
