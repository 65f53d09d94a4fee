package io.blockmover.nativebridge.vddk;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The completion callback of ReadAsync/WriteAsync: one upcall stub for the whole JVM, whose
 * {@code cbData} is not a pointer but the number of a pending request. The callback arrives on
 * one of VDDK's threads; it completes the request's future there (cheaply: no VDDK call on the
 * handle, which would break the one-caller rule).
 */
final class Completions {
    /** {@code void (*VixDiskLibCompletionCB)(void *cbData, VixError result)} */
    static final MemorySegment STUB;
    private static final ConcurrentHashMap<Long, Pending> pending = new ConcurrentHashMap<>();
    private static final AtomicLong ids = new AtomicLong(1);

    static {
        try {
            STUB = Linker.nativeLinker().upcallStub(
                    MethodHandles.lookup().findStatic(Completions.class, "completed",
                            MethodType.methodType(void.class, MemorySegment.class, long.class)),
                    FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG), Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * One submitted request. Its future completes once VDDK called back <em>and</em> the
     * submitting downcall has returned: the callback may run before ReadAsync returns, and the
     * caller must not free the buffer while that downcall still holds it.
     */
    static final class Pending {
        private final VixDiskLib lib;
        private final String operation;
        private final CompletableFuture<Void> future;
        private final AtomicInteger waitingFor = new AtomicInteger(2);
        private volatile long result;

        Pending(VixDiskLib lib, String operation, CompletableFuture<Void> future) {
            this.lib = lib;
            this.operation = operation;
            this.future = future;
        }

        /** The submitting downcall returned VIX_ASYNC. */
        void submitted() {
            arrive();
        }

        private void calledBack(long vixError) {
            result = vixError;
            arrive();
        }

        private void arrive() {
            if (waitingFor.decrementAndGet() == 0) {
                if (result == 0) {
                    future.complete(null);
                } else {
                    future.completeExceptionally(lib.error(operation, result));
                }
            }
        }
    }

    private Completions() {}

    /** Registers a request; its number is the {@code cbData} to give VDDK. */
    static long register(Pending p) {
        long id = ids.getAndIncrement();
        pending.put(id, p);
        return id;
    }

    /** The request was refused at submission: no callback will come. */
    static Pending forget(long id) {
        return pending.remove(id);
    }

    static int outstanding() {
        return pending.size();
    }

    private static void completed(MemorySegment cbData, long result) {
        try {
            Pending p = pending.remove(cbData.address());
            if (p != null) {
                p.calledBack(result);
            }
        } catch (Throwable t) {
            // Nothing may be thrown back into VDDK's thread: it would abort the JVM.
        }
    }
}
