package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;

import java.nio.charset.StandardCharsets;

/** UTF-8 strings as NBD carries them: no terminator, at most 4096 bytes. */
final class Strings {
    private Strings() {}

    static void checkLength(String s, String what) {
        if (s == null) {
            throw new NullPointerException(what);
        }
        if (ByteBufUtil.utf8Bytes(s) > NbdConstants.MAX_STRING_LENGTH) {
            throw new IllegalArgumentException(what + " longer than 4096 bytes");
        }
    }

    static String read(ByteBuf in, int length) {
        String s = in.toString(in.readerIndex(), length, StandardCharsets.UTF_8);
        in.skipBytes(length);
        return s;
    }

    /** Writes u32 length then the bytes. */
    static void writeWithLength(ByteBuf out, String s) {
        out.writeInt(ByteBufUtil.utf8Bytes(s));
        ByteBufUtil.writeUtf8(out, s);
    }
}
