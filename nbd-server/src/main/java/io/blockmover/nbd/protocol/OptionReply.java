package io.blockmover.nbd.protocol;

import java.util.Objects;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/** A server reply to an option: magic 0x3e889045565a9, u32 option, u32 reply type, u32 length, data. */
public sealed interface OptionReply {

    /** The option this replies to. */
    int option();

    /** The reply type on the wire. */
    int type();

    record Ack(int option) implements OptionReply {
        public int type() {
            return REP_ACK;
        }
    }

    /** NBD_REP_SERVER: one export of an NBD_OPT_LIST answer; {@code details} may be empty. */
    record Server(int option, String exportName, String details) implements OptionReply {
        public Server {
            Strings.checkLength(exportName, "export name");
            Strings.checkLength(details, "export details");
        }

        public int type() {
            return REP_SERVER;
        }
    }

    record Info(int option, InfoItem item) implements OptionReply {
        public Info {
            Objects.requireNonNull(item);
        }

        public int type() {
            return REP_INFO;
        }
    }

    /** NBD_REP_META_CONTEXT: a context id (meaningful only after SET) and its name. */
    record MetaContext(int option, int contextId, String name) implements OptionReply {
        public MetaContext {
            Strings.checkLength(name, "meta context name");
        }

        public int type() {
            return REP_META_CONTEXT;
        }
    }

    /** An error reply (type has bit 31 set) with an optional human-readable message. */
    record Error(int option, int type, String message) implements OptionReply {
        public Error {
            if ((type & REP_FLAG_ERROR) == 0) {
                throw new IllegalArgumentException("not an error reply type: " + type);
            }
            Strings.checkLength(message, "error message");
        }
    }

    /** Decoded only: a non-error reply type this implementation does not know, data kept as bytes. */
    record Unknown(int option, int type, byte[] data) implements OptionReply {}
}
