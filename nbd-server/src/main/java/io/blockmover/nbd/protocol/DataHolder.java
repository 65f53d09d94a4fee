package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;

/**
 * A message that carries a payload buffer (WRITE data, READ data). Reference counting is
 * delegated to that buffer, so Netty's usual release rules (the last handler to consume a
 * message releases it) apply to the message as a whole.
 */
public interface DataHolder extends ReferenceCounted {

    ByteBuf data();

    @Override
    default int refCnt() {
        return data().refCnt();
    }

    @Override
    default ReferenceCounted retain() {
        data().retain();
        return this;
    }

    @Override
    default ReferenceCounted retain(int increment) {
        data().retain(increment);
        return this;
    }

    @Override
    default ReferenceCounted touch() {
        data().touch();
        return this;
    }

    @Override
    default ReferenceCounted touch(Object hint) {
        data().touch(hint);
        return this;
    }

    @Override
    default boolean release() {
        return data().release();
    }

    @Override
    default boolean release(int decrement) {
        return data().release(decrement);
    }
}
