import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassFileVersion;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassModel;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.lang.classfile.MethodModel;
import java.lang.classfile.MethodTransform;
import java.lang.constant.ClassDesc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Enumeration;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * Rewrites the pre-Java-6 class files of a jar (class-file version below 50) as Java 8 class files
 * (version 52) with stack maps, in place; the bytecode itself is unchanged. Run by the mover's
 * build on picocli's jar in {@code target/lib}: picocli ships Java 5 class files, and the JVM's
 * ahead-of-time cache (CDS) refuses those, so every {@code blockmover} run loaded and verified
 * its ~180 classes from the jar again (about a tenth of a second of every run).
 *
 * <p>Usage: {@code java scripts/UpgradeClassFiles.java JAR...}. A jar with nothing to upgrade is
 * left untouched (same bytes, same time stamp), so running it twice changes nothing. A signed jar
 * is refused: its signature would no longer match.
 */
public final class UpgradeClassFiles {
    /** Java 8: the split verifier with stack maps and nothing newer in the format that needs care. */
    private static final int TARGET_MAJOR = ClassFile.JAVA_8_VERSION;
    /** The first version the JVM's archive (and the type-checking verifier) accepts. */
    private static final int FIRST_CACHEABLE_MAJOR = ClassFile.JAVA_6_VERSION;

    private UpgradeClassFiles() {}

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: java UpgradeClassFiles.java JAR...");
            System.exit(2);
        }
        for (String arg : args) {
            Path jar = Path.of(arg);
            try {
                int upgraded = upgrade(jar);
                System.out.println(jar.getFileName() + ": " + (upgraded == 0 ? "nothing to upgrade"
                        : upgraded + " class files upgraded to version " + TARGET_MAJOR + " with stack maps"));
            } catch (IOException | RuntimeException e) {
                System.err.println("UpgradeClassFiles: " + jar + ": " + e.getMessage());
                System.exit(1);
            }
        }
    }

    /** Rewrites {@code jar} in place when it holds old class files; returns how many were upgraded. */
    static int upgrade(Path jar) throws IOException {
        Path out = jar.resolveSibling(jar.getFileName() + ".upgrading");
        int upgraded = 0;
        try (ZipFile in = new ZipFile(jar.toFile())) {
            refuseSigned(in, jar);
            ClassFile classFile = ClassFile.of(
                    ClassFile.StackMapsOption.GENERATE_STACK_MAPS,
                    // Stack maps name the common supertype of merged values: resolve the jar's own classes from the jar.
                    ClassFile.ClassHierarchyResolverOption.of(
                            ClassHierarchyResolver.ofResourceParsing(desc -> open(in, desc))
                                    .orElse(ClassHierarchyResolver.defaultResolver())));
            try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(out))) {
                for (ZipEntry entry : entries(in)) {
                    byte[] bytes;
                    try (InputStream s = in.getInputStream(entry)) {
                        bytes = s.readAllBytes();
                    }
                    if (entry.getName().endsWith(".class") && ClassFile.of().parse(bytes).majorVersion() < FIRST_CACHEABLE_MAJOR) {
                        bytes = upgradeClass(classFile, bytes);
                        upgraded++;
                    }
                    ZipEntry copy = new ZipEntry(entry.getName());
                    copy.setTime(entry.getTime());
                    zip.putNextEntry(copy);
                    zip.write(bytes);
                    zip.closeEntry();
                }
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(out);
            throw e;
        }
        if (upgraded == 0) {
            Files.delete(out);
        } else {
            Files.move(out, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        return upgraded;
    }

    /** The same class as version {@link #TARGET_MAJOR}; every method body is rebuilt, which generates its stack maps. */
    static byte[] upgradeClass(ClassFile classFile, byte[] bytes) {
        ClassModel model = classFile.parse(bytes);
        ClassTransform upgrade = (builder, element) -> {
            switch (element) {
                case ClassFileVersion v -> builder.withVersion(TARGET_MAJOR, 0);
                case MethodModel m -> builder.transformMethod(m, MethodTransform.transformingCode(CodeTransform.ACCEPT_ALL));
                default -> builder.with(element);
            }
        };
        byte[] result = classFile.transformClass(model, upgrade);
        List<?> errors = classFile.verify(result);
        if (!errors.isEmpty()) {
            throw new IllegalStateException(model.thisClass().asInternalName() + " does not verify after the upgrade: " + errors);
        }
        return result;
    }

    private static void refuseSigned(ZipFile in, Path jar) {
        for (ZipEntry e : entries(in)) {
            String name = e.getName().toUpperCase(java.util.Locale.ROOT);
            if (name.startsWith("META-INF/") && (name.endsWith(".SF") || name.endsWith(".RSA") || name.endsWith(".EC") || name.endsWith(".DSA"))) {
                throw new IllegalArgumentException(jar + " is signed (" + e.getName() + "); rewriting it would break the signature");
            }
        }
    }

    private static List<ZipEntry> entries(ZipFile in) {
        List<ZipEntry> list = new java.util.ArrayList<>();
        for (Enumeration<? extends ZipEntry> e = in.entries(); e.hasMoreElements(); ) {
            list.add(e.nextElement());
        }
        return list;
    }

    private static InputStream open(ZipFile in, ClassDesc desc) {
        String internal = desc.descriptorString();
        ZipEntry entry = in.getEntry(internal.substring(1, internal.length() - 1) + ".class");
        try {
            return entry == null ? null : in.getInputStream(entry);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
