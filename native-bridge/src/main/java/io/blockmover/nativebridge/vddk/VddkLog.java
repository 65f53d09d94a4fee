package io.blockmover.nativebridge.vddk;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * VDDK's log, warning and panic callbacks, which take {@code (const char *fmt, va_list)}: FFM
 * cannot read a va_list, so the C trampoline built with this module ({@code vddk_log_trampoline.c})
 * formats each message with vsnprintf and hands the finished line to {@link #line}, which logs it
 * to SLF4J (logger {@code vddk}: log at INFO, warning at WARN, panic at ERROR).
 *
 * <p>Loaded once per JVM: the three function pointers given to InitEx must stay valid for as
 * long as the library may call them, so the upcall stub lives in the global arena.
 */
final class VddkLog {
    private static final Logger log = LoggerFactory.getLogger("vddk");
    private static final String RESOURCE = "/native/linux-x86_64/libblockmover-vddk-log.so";
    private static VddkLog instance;

    final MemorySegment logFunction;
    final MemorySegment warnFunction;
    final MemorySegment panicFunction;

    private VddkLog(SymbolLookup trampoline) throws ReflectiveOperationException {
        Linker linker = Linker.nativeLinker();
        MemorySegment sink = linker.upcallStub(
                MethodHandles.lookup().findStatic(VddkLog.class, "line", MethodType.methodType(void.class, int.class, MemorySegment.class)),
                FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS), Arena.global());
        MemorySegment setSink = trampoline.findOrThrow("bm_vddk_set_sink");
        try {
            linker.downcallHandle(setSink, FunctionDescriptor.ofVoid(ADDRESS)).invokeExact(sink);
        } catch (Throwable t) {
            throw new IllegalStateException("cannot install the VDDK log sink", t);
        }
        logFunction = trampoline.findOrThrow("bm_vddk_log");
        warnFunction = trampoline.findOrThrow("bm_vddk_warn");
        panicFunction = trampoline.findOrThrow("bm_vddk_panic");
    }

    static synchronized VddkLog get() {
        if (instance == null) {
            try {
                instance = new VddkLog(SymbolLookup.libraryLookup(trampolineFile(), Arena.global()));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return instance;
    }

    /** The trampoline as a file: straight from target/classes, or copied out of the jar once. */
    private static Path trampolineFile() {
        URL url = VddkLog.class.getResource(RESOURCE);
        if (url == null) {
            throw new IllegalStateException(RESOURCE + " is missing from the classpath (native-bridge was built without gcc?)");
        }
        try {
            if ("file".equals(url.getProtocol())) {
                return Path.of(url.toURI());
            }
            Path copy = Files.createTempFile("blockmover-vddk-log", ".so");
            copy.toFile().deleteOnExit();
            try (InputStream in = url.openStream()) {
                Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
            }
            return copy;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract " + RESOURCE, e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The upcall: runs on whichever VDDK thread logged; must never throw back into C. */
    private static void line(int level, MemorySegment text) {
        try {
            String s = text.reinterpret(Integer.MAX_VALUE).getString(0);
            switch (level) {
                case 0 -> log.info(s);
                case 1 -> log.warn(s);
                default -> log.error("VDDK panic: {}", s);
            }
        } catch (Throwable t) {
            // A throw here would abort the JVM; losing one log line is the lesser harm.
        }
    }
}
