package io.blockmover.nbd.protocol;

import java.util.List;
import java.util.Objects;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/** A client option in the handshake phase: IHAVEOPT, u32 option, u32 length, data. */
public sealed interface OptionRequest {

    /** The option number on the wire. */
    int option();

    /** NBD_OPT_EXPORT_NAME: the old way to pick an export; the server answers with {@link ExportNameReply} or closes. */
    record ExportName(String exportName) implements OptionRequest {
        public ExportName {
            Strings.checkLength(exportName, "export name");
        }

        public int option() {
            return OPT_EXPORT_NAME;
        }
    }

    record Abort() implements OptionRequest {
        public int option() {
            return OPT_ABORT;
        }
    }

    record ListExports() implements OptionRequest {
        public int option() {
            return OPT_LIST;
        }
    }

    record StartTls() implements OptionRequest {
        public int option() {
            return OPT_STARTTLS;
        }
    }

    /** NBD_OPT_INFO or NBD_OPT_GO: the export name, then the NBD_INFO types the client asks for. */
    record Info(boolean go, String exportName, List<Integer> infoRequests) implements OptionRequest {
        public Info {
            Strings.checkLength(exportName, "export name");
            infoRequests = List.copyOf(infoRequests);
            for (int type : infoRequests) {
                if ((type & ~0xFFFF) != 0) {
                    throw new IllegalArgumentException("info type is 16 bits: " + type);
                }
            }
        }

        public int option() {
            return go ? OPT_GO : OPT_INFO;
        }
    }

    record StructuredReply() implements OptionRequest {
        public int option() {
            return OPT_STRUCTURED_REPLY;
        }
    }

    /** NBD_OPT_LIST_META_CONTEXT or NBD_OPT_SET_META_CONTEXT: export name and queries. */
    record MetaContext(boolean set, String exportName, List<String> queries) implements OptionRequest {
        public MetaContext {
            Strings.checkLength(exportName, "export name");
            queries = List.copyOf(queries);
            queries.forEach(q -> Strings.checkLength(q, "meta context query"));
        }

        public int option() {
            return set ? OPT_SET_META_CONTEXT : OPT_LIST_META_CONTEXT;
        }
    }

    record ExtendedHeaders() implements OptionRequest {
        public int option() {
            return OPT_EXTENDED_HEADERS;
        }
    }

    /**
     * An option number this implementation does not interpret, with {@code length} bytes of data
     * (skipped when decoded; sent as zeros when encoded).
     */
    record Unknown(int option, int length) implements OptionRequest {}

    /** Decoded only: an option whose data exceeded the decoder's cap; its data was discarded unread. */
    record TooBig(int option, long length) implements OptionRequest {}

    /** Decoded only: a known option whose data does not parse; the server answers NBD_REP_ERR_INVALID. */
    record Malformed(int option, String reason) implements OptionRequest {
        public Malformed {
            Objects.requireNonNull(reason);
        }
    }
}
