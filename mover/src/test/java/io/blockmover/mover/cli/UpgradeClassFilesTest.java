package io.blockmover.mover.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.CodeModel;
import java.lang.classfile.Instruction;
import java.lang.classfile.MethodModel;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.MethodTypeDesc;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The build rewrites picocli's Java 5 class files (which the JVM's ahead-of-time cache refuses) with
 * {@code scripts/UpgradeClassFiles.java}; run here as the build runs it, on the real picocli jar.
 */
class UpgradeClassFilesTest {
    private static final Path TOOL = Path.of("").toAbsolutePath().getParent().resolve("scripts/UpgradeClassFiles.java");

    @TempDir
    Path dir;

    @Test
    void picocliBecomesCacheableClassFilesWithTheSameBytecode() throws Exception {
        Path original = picocliJar();
        Map<String, byte[]> before = entries(original);
        assertTrue(before.values().stream().anyMatch(UpgradeClassFilesTest::isOldClass),
                "precondition: the picocli jar on the test class path holds pre-Java-6 class files");
        Path jar = Files.copy(original, dir.resolve("picocli.jar"));

        Result r = upgrade(jar);
        assertEquals(0, r.exit(), r.output());
        Map<String, byte[]> after = entries(jar);

        assertEquals(List.copyOf(before.keySet()), List.copyOf(after.keySet()), "same entries in the same order");
        for (var e : before.entrySet()) {
            byte[] was = e.getValue();
            byte[] now = after.get(e.getKey());
            if (!e.getKey().endsWith(".class")) {
                assertArrayEquals(was, now, e.getKey());
            } else if (!isOldClass(was)) {
                assertArrayEquals(was, now, "already modern, left alone: " + e.getKey());
            } else {
                ClassModel now52 = ClassFile.of().parse(now);
                assertEquals(ClassFile.JAVA_8_VERSION, now52.majorVersion(), e.getKey());
                assertEquals(opcodes(ClassFile.of().parse(was)), opcodes(now52), "bytecode of " + e.getKey());
            }
        }
        assertTrue(r.output().contains(before.values().stream().filter(UpgradeClassFilesTest::isOldClass).count() + " class files upgraded"),
                r.output());
    }

    @Test
    void everyUpgradedClassPassesTheJvmVerifierAndPicocliStillParses() throws Exception {
        Path jar = Files.copy(picocliJar(), dir.resolve("picocli.jar"));
        assertEquals(0, upgrade(jar).exit());

        // A loader of its own (not the boot loader), so the JVM verifies every class it links.
        try (URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader())) {
            for (String name : entries(jar).keySet()) {
                if (name.startsWith("picocli/") && name.endsWith(".class")) {
                    Class<?> c = Class.forName(name.substring(0, name.length() - 6).replace('/', '.'), true, loader);
                    assertEquals(loader, c.getClassLoader(), name);
                }
            }
            // The programmatic API end to end: model, parser, converter, help.
            Class<?> specType = loader.loadClass("picocli.CommandLine$Model$CommandSpec");
            Class<?> optionType = loader.loadClass("picocli.CommandLine$Model$OptionSpec");
            Object spec = specType.getMethod("create").invoke(null);
            Object builder = optionType.getMethod("builder", String.class, String[].class).invoke(null, "--size", new String[0]);
            call(builder, "type", new Class<?>[] {Class.class}, long.class);
            call(builder, "description", new Class<?>[] {String[].class}, (Object) new String[] {"bytes to copy"});
            specType.getMethod("addOption", optionType).invoke(spec, call(builder, "build", new Class<?>[0]));
            Object cl = loader.loadClass("picocli.CommandLine").getConstructor(Object.class).newInstance(spec);
            Object parsed = call(cl, "parseArgs", new Class<?>[] {String[].class}, (Object) new String[] {"--size", "4096"});
            assertEquals(4096L, call(parsed, "matchedOptionValue", new Class<?>[] {String.class, Object.class}, "--size", -1L));
            String usage = (String) call(cl, "getUsageMessage", new Class<?>[0]);
            assertTrue(usage.contains("--size=PARAM") && usage.contains("bytes to copy"), usage);
        }
    }

    @Test
    void aSecondRunChangesNothing() throws Exception {
        Path jar = Files.copy(picocliJar(), dir.resolve("picocli.jar"));
        assertEquals(0, upgrade(jar).exit());
        byte[] bytes = Files.readAllBytes(jar);
        FileTime time = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(jar, time);

        Result again = upgrade(jar);
        assertEquals(0, again.exit(), again.output());
        assertTrue(again.output().contains("nothing to upgrade"), again.output());
        assertArrayEquals(bytes, Files.readAllBytes(jar));
        assertEquals(time, Files.getLastModifiedTime(jar), "an untouched jar keeps its time stamp (the AOT cache checks it)");
    }

    @Test
    void aSignedJarIsRefusedAndLeftAsItWas() throws Exception {
        Path jar = dir.resolve("signed.jar");
        byte[] java5 = ClassFile.of().build(ClassDesc.of("p.Old"), b -> b.withVersion(ClassFile.JAVA_5_VERSION, 0)
                .withMethodBody("answer", MethodTypeDesc.of(ConstantDescs.CD_int), ClassFile.ACC_PUBLIC | ClassFile.ACC_STATIC,
                        code -> code.bipush(42).ireturn()));
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(jar))) {
            zip.putNextEntry(new ZipEntry("META-INF/SIGNER.SF"));
            zip.write("Signature-Version: 1.0\n".getBytes(StandardCharsets.US_ASCII));
            zip.putNextEntry(new ZipEntry("p/Old.class"));
            zip.write(java5);
        }
        byte[] before = Files.readAllBytes(jar);

        Result r = upgrade(jar);
        assertEquals(1, r.exit(), r.output());
        assertTrue(r.output().contains("is signed (META-INF/SIGNER.SF)"), r.output());
        assertEquals(1, r.output().strip().lines().count(), "one line, no stack trace: " + r.output());
        assertArrayEquals(before, Files.readAllBytes(jar));
        try (var left = Files.list(dir)) {
            assertEquals(List.of(jar), left.toList(), "no temporary file left behind");
        }
    }

    @Test
    void anOldClassWithBranchesGetsStackMapsAndStillRuns() throws Exception {
        // max(a, b) as a Java 5 class file: a branch, so the verifier needs a stack map frame at its target.
        byte[] java5 = ClassFile.of().build(ClassDesc.of("p.Max"), b -> b.withVersion(ClassFile.JAVA_5_VERSION, 0)
                .withMethodBody("max", MethodTypeDesc.of(ConstantDescs.CD_int, ConstantDescs.CD_int, ConstantDescs.CD_int),
                        ClassFile.ACC_PUBLIC | ClassFile.ACC_STATIC, code -> {
                            var second = code.newLabel();
                            code.iload(0).iload(1).if_icmplt(second).iload(0).ireturn()
                                    .labelBinding(second).iload(1).ireturn();
                        }));
        Path jar = dir.resolve("max.jar");
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(jar))) {
            zip.putNextEntry(new ZipEntry("p/Max.class"));
            zip.write(java5);
        }
        assertEquals(0, upgrade(jar).exit());

        ClassModel upgraded = ClassFile.of().parse(entries(jar).get("p/Max.class"));
        CodeModel code = upgraded.methods().getFirst().code().orElseThrow();
        assertTrue(code.findAttribute(java.lang.classfile.Attributes.stackMapTable()).isPresent(), "a stack map table");
        try (URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null)) {
            var max = loader.loadClass("p.Max").getMethod("max", int.class, int.class);
            assertEquals(7, max.invoke(null, 7, 3));
            assertEquals(9, max.invoke(null, 2, 9));
        }
    }

    private record Result(int exit, String output) {}

    /** A public method that picocli may declare in a package-private superclass (its option builders do). */
    private static Object call(Object target, String name, Class<?>[] types, Object... args) throws ReflectiveOperationException {
        java.lang.reflect.Method m = target.getClass().getMethod(name, types);
        m.setAccessible(true);
        return m.invoke(target, args);
    }

    private static Result upgrade(Path jar) throws IOException, InterruptedException {
        if (!Files.isRegularFile(TOOL)) {
            fail("the build tool is missing: " + TOOL);
        }
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), TOOL.toString(), jar.toString())
                .redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(2, TimeUnit.MINUTES)) {
                fail("UpgradeClassFiles did not finish: " + out);
            }
            return new Result(p.exitValue(), out);
        } finally {
            p.destroyForcibly();
        }
    }

    private static Path picocliJar() throws Exception {
        return Path.of(CommandLine.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static boolean isOldClass(byte[] bytes) {
        return bytes.length > 8 && (bytes[0] & 0xff) == 0xca && ((bytes[6] & 0xff) << 8 | (bytes[7] & 0xff)) < ClassFile.JAVA_6_VERSION;
    }

    /** Every method's instructions, by opcode: what the upgrade must not change. */
    private static Map<String, List<String>> opcodes(ClassModel model) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (MethodModel m : model.methods()) {
            List<String> ops = new ArrayList<>();
            m.code().ifPresent(code -> code.forEach(e -> {
                if (e instanceof Instruction i) {
                    ops.add(i.opcode().name());
                }
            }));
            out.put(m.methodName().stringValue() + m.methodType().stringValue(), ops);
        }
        return out;
    }

    private static Map<String, byte[]> entries(Path jar) throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            for (ZipEntry e : java.util.Collections.list(zip.entries())) {
                try (InputStream in = zip.getInputStream(e)) {
                    out.put(e.getName(), in.readAllBytes());
                }
            }
        }
        return out;
    }
}
