package io.blockmover.nbd.server;

import io.blockmover.nbd.protocol.NbdConstants;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Resolves LIST/SET_META_CONTEXT queries against a device: {@code base:allocation} always, plus
 * the device's own contexts. A query ending in ':' (a bare namespace such as {@code base:}) or an
 * empty query list matches every context in scope; any other query must name a context exactly.
 */
final class MetaContexts {
    private MetaContexts() {}

    /** The context names the queries select, in query order without duplicates. */
    static List<String> names(BlockDevice device, List<String> queries) {
        Map<String, Boolean> selected = new LinkedHashMap<>();
        if (queries.isEmpty()) {
            selected.put(NbdConstants.BASE_ALLOCATION, true);
            device.listMetaContexts("").forEach(n -> selected.put(n, true));
        }
        for (String query : queries) {
            if (query.endsWith(":")) {
                if (NbdConstants.BASE_ALLOCATION.startsWith(query)) {
                    selected.put(NbdConstants.BASE_ALLOCATION, true);
                }
                device.listMetaContexts(query).forEach(n -> selected.put(n, true));
            } else if (query.equals(NbdConstants.BASE_ALLOCATION) || device.metaContext(query).isPresent()) {
                selected.put(query, true);
            }
        }
        return List.copyOf(selected.keySet());
    }

    /** The selected contexts with ids counting from 1, ready to answer BLOCK_STATUS. */
    static List<ActiveContext> activate(BlockDevice device, List<String> names) {
        List<ActiveContext> active = new ArrayList<>(names.size());
        for (String name : names) {
            Optional<ActiveContext.Source> source = name.equals(NbdConstants.BASE_ALLOCATION)
                    ? Optional.of(device::extents)
                    : device.metaContext(name).map(c -> c::status);
            source.ifPresent(s -> active.add(new ActiveContext(active.size() + 1, name, s)));
        }
        return List.copyOf(active);
    }
}
