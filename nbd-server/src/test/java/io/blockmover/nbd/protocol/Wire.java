package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/** Hand-written wire bytes for the codec tests, and helpers to drain embedded channels. */
final class Wire {
    private Wire() {}

    /** Hex digits with optional spaces, plus {@code "text"} runs written as ASCII. */
    static byte[] bytes(String spec) {
        StringBuilder hex = new StringBuilder();
        int i = 0;
        while (i < spec.length()) {
            char c = spec.charAt(i);
            if (c == '"') {
                int end = spec.indexOf('"', i + 1);
                hex.append(HexFormat.of().formatHex(spec.substring(i + 1, end).getBytes(StandardCharsets.US_ASCII)));
                i = end + 1;
            } else {
                if (!Character.isWhitespace(c)) {
                    hex.append(c);
                }
                i++;
            }
        }
        return HexFormat.of().parseHex(hex);
    }

    static ByteBuf buf(String spec) {
        return Unpooled.wrappedBuffer(bytes(spec));
    }

    /** Everything the channel wrote, concatenated, with the written buffers released. */
    static byte[] drainOutbound(EmbeddedChannel channel) {
        ByteBuf all = Unpooled.buffer();
        ByteBuf b;
        while ((b = channel.readOutbound()) != null) {
            all.writeBytes(b);
            b.release();
        }
        byte[] bytes = ByteBufUtil.getBytes(all);
        all.release();
        return bytes;
    }

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
