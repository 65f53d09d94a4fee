package io.blockmover.nbd.esx;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.SequencedMap;

/**
 * Answers one aggregated control request: finds its route by path, checks the method, decodes the query
 * and turns the action's JSON or its failure into the response. Every answer is one line of JSON; what the
 * client got wrong (unknown path, wrong method, malformed query or request, a refused action) is a 400 with
 * {@code {"error": "..."}}, a fault the real host would raise adds its vSphere fault name, anything else is
 * a 500 and a logged stack trace.
 */
@ChannelHandler.Sharable
final class ControlHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(ControlHandler.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    @FunctionalInterface
    interface Action {
        ObjectNode run(ControlQuery query) throws ControlBadRequest, ChangeIdFault;
    }

    record Route(HttpMethod method, Action action) {
    }

    private final SequencedMap<String, Route> routes;

    /** {@code routes} by path, in the order the unknown-path error lists them. */
    ControlHandler(SequencedMap<String, Route> routes) {
        this.routes = routes;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        HttpResponseStatus status = HttpResponseStatus.OK;
        ObjectNode body;
        try {
            body = answer(request);
        } catch (ControlBadRequest | IllegalArgumentException | IndexOutOfBoundsException | IllegalStateException e) {
            status = HttpResponseStatus.BAD_REQUEST;
            body = error(e.getMessage());
        } catch (ChangeIdFault e) {
            status = HttpResponseStatus.BAD_REQUEST;
            body = error(e.getMessage()).put("fault", "FileFault").put("reason", e.reason().name());
        } catch (RuntimeException e) {
            log.error("control request {} failed", request.uri(), e);
            status = HttpResponseStatus.INTERNAL_SERVER_ERROR;
            body = error(e.toString());
        }
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(body.toString() + "\n", StandardCharsets.UTF_8)); // Jackson's compact rendering
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        HttpUtil.setContentLength(response, response.content().readableBytes());
        if (request.decoderResult().isFailure()) {
            // The codec cannot tell where a broken request ends, so the connection cannot carry another.
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        } else {
            ctx.writeAndFlush(response); // HttpServerKeepAliveHandler closes it when the client asked to
        }
    }

    private ObjectNode answer(FullHttpRequest request) throws ControlBadRequest, ChangeIdFault {
        if (request.decoderResult().isFailure()) {
            throw new ControlBadRequest("malformed HTTP request: " + request.decoderResult().cause().getMessage());
        }
        // Semicolons stay part of a value: export names and readError specs are not split on them.
        QueryStringDecoder decoded = QueryStringDecoder.builder().semicolonIsNormalChar(true).build(request.uri());
        String path;
        try {
            path = decoded.path();
        } catch (IllegalArgumentException e) {
            throw new ControlBadRequest("malformed path '" + decoded.rawPath() + "': " + e.getMessage());
        }
        Route route = routes.get(path);
        if (route == null) {
            throw new ControlBadRequest("unknown path " + path + " (have " + String.join(" ", routes.sequencedKeySet()) + ")");
        }
        if (!route.method().equals(request.method())) {
            throw new ControlBadRequest("use " + route.method());
        }
        return route.action().run(ControlQuery.of(decoded));
    }

    private static ObjectNode error(String message) {
        return JSON.createObjectNode().put("error", message);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("control connection {} failed", ctx.channel().remoteAddress(), cause);
        ctx.close();
    }
}
