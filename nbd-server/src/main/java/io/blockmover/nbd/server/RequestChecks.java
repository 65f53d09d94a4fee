package io.blockmover.nbd.server;

import io.blockmover.nbd.protocol.NbdRequest;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * Validates a request against the export before any device call, with the spec's error
 * numbers: EPERM for writes to a read-only export, ENOSPC for writes past the end, EINVAL for
 * everything else out of range, too large, unsupported or with flags the command does not take.
 */
final class RequestChecks {
    private RequestChecks() {}

    /** Why a request is refused. */
    record Rejection(int errno, String message) {}

    /** The rejection, or null when the request may be served. */
    static Rejection check(Session session, NbdRequest request) {
        BlockDevice device = session.device();
        int type = request.type();
        int badFlags = request.flags() & ~allowedFlags(type, session.structuredReplies());
        if (badFlags != 0) {
            return new Rejection(EINVAL, "flags 0x" + Integer.toHexString(badFlags) + " are not valid for " + commandName(type));
        }
        long offset = request.offset();
        long length = request.length();
        boolean inRange = offset >= 0 && offset <= device.size() && length <= device.size() - offset;
        return switch (type) {
            case CMD_READ -> {
                if (length == 0) {
                    yield new Rejection(EINVAL, "READ of length 0");
                }
                if (length > device.blockSizes().maximumPayload()) {
                    yield new Rejection(EINVAL, "READ of " + length + " bytes exceeds the maximum payload of "
                            + device.blockSizes().maximumPayload());
                }
                yield inRange ? null : outOfRange(EINVAL, request, device);
            }
            case CMD_WRITE, CMD_WRITE_ZEROES -> {
                if (device.isReadOnly()) {
                    yield new Rejection(EPERM, "export '" + session.export().name() + "' is read-only");
                }
                yield inRange ? null : outOfRange(ENOSPC, request, device);
            }
            case CMD_TRIM -> {
                if (device.isReadOnly()) {
                    yield new Rejection(EPERM, "export '" + session.export().name() + "' is read-only");
                }
                yield inRange ? null : outOfRange(EINVAL, request, device);
            }
            case CMD_CACHE -> inRange ? null : outOfRange(EINVAL, request, device);
            case CMD_FLUSH -> null;
            case CMD_BLOCK_STATUS -> {
                if (!session.structuredReplies() || session.contexts().isEmpty()) {
                    yield new Rejection(EINVAL, "BLOCK_STATUS needs structured replies and a meta context");
                }
                if (length == 0) {
                    yield new Rejection(EINVAL, "BLOCK_STATUS of length 0");
                }
                yield inRange ? null : outOfRange(EINVAL, request, device);
            }
            default -> new Rejection(EINVAL, "unsupported " + commandName(type));
        };
    }

    private static int allowedFlags(int type, boolean structured) {
        int flags = CMD_FLAG_FUA;
        return switch (type) {
            case CMD_READ -> structured ? flags | CMD_FLAG_DF : flags;
            case CMD_WRITE_ZEROES -> flags | CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO;
            case CMD_BLOCK_STATUS -> flags | CMD_FLAG_REQ_ONE;
            default -> flags;
        };
    }

    private static Rejection outOfRange(int errno, NbdRequest request, BlockDevice device) {
        return new Rejection(errno, commandName(request.type()) + " of " + request.length() + " bytes at "
                + Long.toUnsignedString(request.offset()) + " is beyond the export's end at " + device.size());
    }
}
