package io.blockmover.nbd.esx;

import io.netty.handler.codec.http.QueryStringDecoder;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A control request's query parameters as Netty's {@link QueryStringDecoder} decoded them, with getters
 * that name what is wrong in one line. A parameter named twice takes its last value, as a form would.
 */
record ControlQuery(Map<String, List<String>> parameters) {

    /**
     * Checks what the decoder accepts silently: a parameter without a name or without a value is a typo
     * in a script, never a request this API means, so it is refused rather than ignored.
     */
    static ControlQuery of(QueryStringDecoder decoded) throws ControlBadRequest {
        Map<String, List<String>> parameters;
        try {
            parameters = decoded.parameters();
        } catch (IllegalArgumentException e) { // a broken %-escape
            throw new ControlBadRequest("malformed query '" + decoded.rawQuery() + "': " + e.getMessage());
        }
        for (Map.Entry<String, List<String>> p : parameters.entrySet()) {
            if (p.getKey().isEmpty() || p.getValue().stream().anyMatch(String::isEmpty)) {
                throw new ControlBadRequest("bad query parameter '" + p.getKey() + "' in '" + decoded.rawQuery()
                        + "' (want name=value)");
            }
        }
        return new ControlQuery(parameters);
    }

    Optional<String> optional(String name) {
        List<String> values = parameters.get(name);
        return values == null ? Optional.empty() : Optional.of(values.getLast());
    }

    boolean has(String name) {
        return parameters.containsKey(name);
    }

    String required(String name) throws ControlBadRequest {
        Optional<String> v = optional(name);
        if (v.isEmpty()) {
            throw new ControlBadRequest("missing parameter '" + name + "'");
        }
        return v.get();
    }

    long number(String name, long fallback) throws ControlBadRequest {
        Optional<String> v = optional(name);
        if (v.isEmpty()) {
            return fallback;
        }
        try {
            return Long.parseLong(v.get());
        } catch (NumberFormatException e) {
            throw new ControlBadRequest("parameter '" + name + "' is not a number: " + v.get());
        }
    }
}
