package io.blockmover.nbd.server;

import io.blockmover.nbd.protocol.BlockStatusDescriptor;
import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;
import io.blockmover.nbd.protocol.ReplyEncoder;
import io.netty.buffer.ByteBuf;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * Serves one checked request against the device and writes its replies; runs on a worker
 * thread. Structured READs send zero runs as OFFSET_HOLE (from the device's extents) and data
 * read straight into pooled direct buffers, behind the chunk's header in the same buffer, that
 * go to the socket uncopied.
 */
final class RequestServer {
    private static final Logger LOG = LoggerFactory.getLogger(RequestServer.class);

    /** Zero runs shorter than this are sent as data: a hole chunk would cost more than it saves. */
    static final int MIN_HOLE = 4096;
    /** Descriptors per BLOCK_STATUS chunk; the spec asks for at most 2^20, we stay far below. */
    static final int MAX_DESCRIPTORS = 1 << 16;

    private final Session session;
    private final BlockDevice device;

    RequestServer(Session session) {
        this.session = session;
        this.device = session.device();
    }

    void serve(NbdRequest request, TransmissionHandler.ReplySink sink) {
        try {
            switch (request.type()) {
                case CMD_READ -> read(request, sink);
                case CMD_WRITE -> {
                    device.write(request.offset(), request.data());
                    fuaFlush(request);
                    sink.last(NbdReply.Simple.ok(request.cookie()));
                }
                case CMD_WRITE_ZEROES -> {
                    device.writeZeroes(request.offset(), request.length(), !request.hasFlag(CMD_FLAG_NO_HOLE));
                    fuaFlush(request);
                    sink.last(NbdReply.Simple.ok(request.cookie()));
                }
                case CMD_TRIM -> {
                    device.trim(request.offset(), request.length());
                    fuaFlush(request);
                    sink.last(NbdReply.Simple.ok(request.cookie()));
                }
                case CMD_FLUSH -> {
                    device.flush();
                    sink.last(NbdReply.Simple.ok(request.cookie()));
                }
                // Every byte is already in memory or computed on demand: nothing to prefetch.
                case CMD_CACHE -> sink.last(NbdReply.Simple.ok(request.cookie()));
                case CMD_BLOCK_STATUS -> blockStatus(request, sink);
                default -> replyError(sink, request, EINVAL, "unsupported " + commandName(request.type()));
            }
        } catch (IOException e) {
            replyError(sink, request, EIO, e.getMessage() == null ? e.toString() : e.getMessage());
        } catch (RuntimeException | Error e) {
            // Even a device bug must produce a reply: an unanswered request would stall the
            // client and keep its share of the connection's in-flight budget forever.
            LOG.warn("connection {}: {} failed on export '{}'", session.connectionId(), request, session.export().name(), e);
            replyError(sink, request, e instanceof OutOfMemoryError ? ENOMEM : EIO, e.toString());
        } finally {
            request.release();
        }
    }

    private void fuaFlush(NbdRequest request) throws IOException {
        if (request.hasFlag(CMD_FLAG_FUA)) {
            device.flush();
        }
    }

    /** Errors of READ and BLOCK_STATUS go as a structured chunk when negotiated, others as simple replies. */
    void replyError(TransmissionHandler.ReplySink sink, NbdRequest request, int errno, String message) {
        boolean chunk = session.structuredReplies() && (request.type() == CMD_READ || request.type() == CMD_BLOCK_STATUS);
        sink.last(chunk
                ? new NbdReply.Error(request.cookie(), true, errno, truncate(message))
                : NbdReply.Simple.error(request.cookie(), errno));
    }

    private void read(NbdRequest request, TransmissionHandler.ReplySink sink) throws IOException {
        long offset = request.offset();
        int length = (int) request.length();
        if (!session.structuredReplies()) {
            ByteBuf wire = sink.alloc().directBuffer(SIMPLE_REPLY_HEADER_LENGTH + length);
            ReplyEncoder.writeSimpleHeader(wire, request.cookie(), 0);
            sink.last(readBehindHeader(wire, offset, length));
            return;
        }
        if (request.hasFlag(CMD_FLAG_DF)) {
            sink.last(offsetData(sink, request.cookie(), true, offset, length));
            return;
        }
        List<Segment> segments = segments(offset, length);
        for (int i = 0; i < segments.size(); i++) {
            Segment s = segments.get(i);
            boolean last = i == segments.size() - 1;
            if (s.hole) {
                sink.send(new NbdReply.OffsetHole(request.cookie(), last, s.offset, (int) s.length), last);
                continue;
            }
            ByteBuf chunk;
            try {
                chunk = offsetData(sink, request.cookie(), last, s.offset, (int) s.length);
            } catch (IOException | RuntimeException e) {
                if (i == 0) {
                    throw e;
                }
                // Earlier chunks are on the wire: finish this reply with an error at the failing offset.
                sink.last(new NbdReply.ErrorOffset(request.cookie(), true, EIO, truncate(e.toString()), s.offset));
                return;
            }
            sink.send(chunk, last);
        }
    }

    /** A whole OFFSET_DATA chunk in one pooled direct buffer: header, then the data read in place. */
    private ByteBuf offsetData(TransmissionHandler.ReplySink sink, long cookie, boolean done, long offset, int length)
            throws IOException {
        ByteBuf wire = sink.alloc().directBuffer(ReplyEncoder.OFFSET_DATA_HEADER_LENGTH + length);
        ReplyEncoder.writeOffsetDataHeader(wire, cookie, done, offset, length);
        return readBehindHeader(wire, offset, length);
    }

    /** Appends {@code length} device bytes behind the header already in {@code wire}; releases it on failure. */
    private ByteBuf readBehindHeader(ByteBuf wire, long offset, int length) throws IOException {
        int header = wire.readableBytes();
        try {
            device.read(offset, length, wire);
            if (wire.readableBytes() != header + length) {
                throw new IOException("device returned " + (wire.readableBytes() - header) + " of " + length + " bytes at " + offset);
            }
            return wire;
        } catch (IOException | RuntimeException e) {
            wire.release();
            throw e;
        }
    }

    private record Segment(long offset, long length, boolean hole) {}

    /** The read range split into data and zero runs, short zero runs folded into data. */
    private List<Segment> segments(long offset, int length) throws IOException {
        List<Segment> out = new ArrayList<>();
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            List<Extent> extents = device.extents(pos, end - pos);
            if (extents.isEmpty()) {
                add(out, pos, end - pos, false);
                break;
            }
            for (Extent e : extents) {
                long n = Math.min(e.length(), end - pos);
                add(out, pos, n, (e.flags() & Extent.ZERO) != 0 && n >= MIN_HOLE);
                pos += n;
                if (pos >= end) {
                    break;
                }
            }
        }
        return out;
    }

    private static void add(List<Segment> out, long offset, long length, boolean hole) {
        if (!out.isEmpty()) {
            Segment prev = out.getLast();
            if (prev.hole == hole) {
                out.set(out.size() - 1, new Segment(prev.offset, prev.length + length, hole));
                return;
            }
        }
        out.add(new Segment(offset, length, hole));
    }

    private void blockStatus(NbdRequest request, TransmissionHandler.ReplySink sink) throws IOException {
        List<ActiveContext> contexts = session.contexts();
        List<NbdReply> chunks = new ArrayList<>(contexts.size());
        for (ActiveContext context : contexts) {
            List<Extent> extents = context.source().status(request.offset(), request.length());
            if (extents.isEmpty()) {
                throw new IOException("meta context " + context.name() + " returned no extents at " + request.offset());
            }
            int limit = request.hasFlag(CMD_FLAG_REQ_ONE) ? 1 : MAX_DESCRIPTORS;
            List<BlockStatusDescriptor> descriptors = new ArrayList<>(Math.min(limit, extents.size()));
            long remaining = request.length();
            for (Extent e : extents) {
                if (remaining == 0 || descriptors.size() == limit) {
                    break;
                }
                long n = Math.min(e.length(), remaining);
                descriptors.add(new BlockStatusDescriptor(n, e.flags()));
                remaining -= n;
            }
            chunks.add(new NbdReply.BlockStatus(request.cookie(), false, context.id(), descriptors));
        }
        for (int i = 0; i < chunks.size() - 1; i++) {
            sink.more(chunks.get(i));
        }
        NbdReply.BlockStatus last = (NbdReply.BlockStatus) chunks.getLast();
        sink.last(new NbdReply.BlockStatus(last.cookie(), true, last.contextId(), last.descriptors()));
    }

    private static String truncate(String message) {
        return message.length() > 1024 ? message.substring(0, 1024) : message;
    }
}
