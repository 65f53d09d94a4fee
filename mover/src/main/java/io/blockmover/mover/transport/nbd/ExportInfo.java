package io.blockmover.mover.transport.nbd;

import static io.blockmover.nbd.protocol.NbdConstants.*;

import io.blockmover.mover.transport.BlockConstraints;
import java.util.List;
import java.util.Map;

/**
 * What the handshake learnt about an export.
 *
 * @param size              bytes, as GO (or EXPORT_NAME) reported it
 * @param transmissionFlags NBD_FLAG_* bits
 * @param blockConstraints  the server's block sizes, or the protocol defaults
 * @param structuredReplies whether the server agreed to structured replies
 * @param metaContexts      negotiated meta context name to id
 * @param availableContexts every context the server listed (only when asked)
 * @param usedGo            false when the server only understood EXPORT_NAME
 */
public record ExportInfo(String exportName, String description, long size, int transmissionFlags,
                         BlockConstraints blockConstraints, boolean serverSentBlockSizes, boolean structuredReplies,
                         Map<String, Integer> metaContexts, List<String> availableContexts, boolean usedGo, boolean tls) {

    public ExportInfo {
        metaContexts = Map.copyOf(metaContexts);
        availableContexts = List.copyOf(availableContexts);
    }

    public boolean has(int flag) {
        return (transmissionFlags & flag) != 0;
    }

    public boolean readOnly() {
        return has(FLAG_READ_ONLY);
    }

    public boolean canMultiConn() {
        return has(FLAG_CAN_MULTI_CONN);
    }

    /** Names of the set transmission flags, for operators. */
    public List<String> flagNames() {
        String[] names = {"HAS_FLAGS", "READ_ONLY", "SEND_FLUSH", "SEND_FUA", "ROTATIONAL", "SEND_TRIM",
                "SEND_WRITE_ZEROES", "SEND_DF", "CAN_MULTI_CONN", "SEND_RESIZE", "SEND_CACHE", "SEND_FAST_ZERO",
                "BLOCK_STATUS_PAYLOAD"};
        java.util.ArrayList<String> out = new java.util.ArrayList<>();
        for (int bit = 0; bit < 16; bit++) {
            if ((transmissionFlags & (1 << bit)) != 0) {
                out.add(bit < names.length ? names[bit] : "bit" + bit);
            }
        }
        return out;
    }
}
