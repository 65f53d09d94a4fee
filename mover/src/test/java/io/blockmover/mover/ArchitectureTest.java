package io.blockmover.mover;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.blockmover.index.repo.Repository;
import io.blockmover.mover.pipeline.BackupCheck;
import io.blockmover.mover.pipeline.DiskBackup;
import io.blockmover.mover.pipeline.DiskRestore;
import io.blockmover.mover.pipeline.SourceComparison;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The rules of the house that the compiler cannot hold: dependencies point down (mover to index
 * and nbd-server, never back), cli and api are two front ends that never reach into each other,
 * and mover uses index only through what index's module-info exports. mover is not a module
 * (its libraries are class-path jars), so the JVM never enforces those exports here: this does.
 */
class ArchitectureTest {
    /** Main classes only: any build directory's test-classes (ArchUnit's own option knows only target/test-classes). */
    static final ImportOption MAIN_ONLY = location -> !location.contains("/test-classes/");

    private static JavaClasses main;

    @BeforeAll
    static void importClasses() {
        main = new ClassFileImporter().withImportOption(MAIN_ONLY)
                .importPackages("io.blockmover");
    }

    /** The front ends: api may not use cli; cli uses api only to start the server in {@code serve}. */
    static ArchRule frontEndsApart() {
        return noClasses().that().resideInAPackage("io.blockmover.mover.api..")
                .should().dependOnClassesThat().resideInAPackage("io.blockmover.mover.cli..")
                .as("api does not use cli");
    }

    static ArchRule cliOnlyServesApi() {
        return noClasses().that().resideInAPackage("io.blockmover.mover.cli..")
                .and().doNotHaveSimpleName("ServeCommand")
                .should().dependOnClassesThat().resideInAPackage("io.blockmover.mover.api..")
                .as("cli uses api only to serve it");
    }

    @Test
    void cliAndApiDoNotReachIntoEachOther() {
        frontEndsApart().check(main);
        cliOnlyServesApi().check(main);
    }

    @Test
    void aFrontEndReachingIntoTheOtherIsCaught() {
        // A test-code class of api that uses cli: with test classes imported, the rule must fail on it.
        JavaClasses withTests = new ClassFileImporter().importPackages("io.blockmover.mover.api", "io.blockmover.mover.cli");
        var r = frontEndsApart().evaluate(withTests);
        assertTrue(r.hasViolation() && r.getFailureReport().getDetails().stream().anyMatch(d -> d.contains("ApiUsingCliFixture")),
                () -> String.join("\n", r.getFailureReport().getDetails()));
    }

    @Test
    void useCasesKnowNoFrontEnd() {
        noClasses().that().resideInAnyPackage("io.blockmover.mover.pipeline..", "io.blockmover.mover.transport..",
                        "io.blockmover.mover.export..")
                .should().dependOnClassesThat().resideInAnyPackage("io.blockmover.mover.cli..", "io.blockmover.mover.api..")
                .check(main);
    }

    @Test
    void frontEndsRunJobsNotTheirParts() {
        // Restore, check and compare are wired once, in pipeline's jobs; cli and api translate requests and results.
        Set<String> parts = Set.of(DiskRestore.class.getName(), BackupCheck.class.getName(), SourceComparison.class.getName(),
                DiskBackup.class.getName());
        noClasses().that().resideInAnyPackage("io.blockmover.mover.cli..", "io.blockmover.mover.api..")
                .should().callConstructorWhere(DescribedPredicate.describe("builds a part of a job",
                        call -> parts.contains(call.getTargetOwner().getName())))
                .check(main);
    }

    @Test
    void lowerModulesKnowNothingOfEachOtherOrOfJobs() {
        noClasses().that().resideInAPackage("io.blockmover.index..")
                .should().dependOnClassesThat().resideInAnyPackage("io.blockmover.nbd..", "io.blockmover.mover..")
                .check(main);
        noClasses().that().resideInAPackage("io.blockmover.nbd..")
                .should().dependOnClassesThat().resideInAnyPackage("io.blockmover.index..", "io.blockmover.mover..")
                .check(main);
        noClasses().that().resideInAPackage("io.blockmover.nativebridge..")
                .should().dependOnClassesThat().resideInAnyPackage("io.blockmover.index..", "io.blockmover.nbd..", "io.blockmover.mover..")
                .check(main);
        noClasses().that().resideInAnyPackage("io.blockmover.index..", "io.blockmover.nbd..")
                .should().dependOnClassesThat().resideInAPackage("io.blockmover.nativebridge..")
                .check(main);
    }

    @Test
    void moverUsesOnlyWhatIndexExports() throws Exception {
        Set<String> exported = indexExports();
        assertTrue(exported.contains(Repository.class.getPackageName()), exported::toString);
        DescribedPredicate<JavaClass> hidden = DescribedPredicate.describe("in a package index does not export",
                c -> c.getPackageName().startsWith("io.blockmover.index.") && !exported.contains(c.getPackageName()));
        noClasses().that().resideInAPackage("io.blockmover.mover..").should().dependOnClassesThat(hidden)
                .check(new ClassFileImporter().importPackages("io.blockmover.mover"));
    }

    /** What index's module-info exports (unqualified), read from the compiled descriptor where Repository was loaded from. */
    static Set<String> indexExports() throws Exception {
        Path where = Path.of(Repository.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ModuleDescriptor index = ModuleFinder.of(where).findAll().iterator().next().descriptor();
        assertEquals("io.blockmover.index", index.name());
        return index.exports().stream().filter(e -> !e.isQualified()).map(ModuleDescriptor.Exports::source)
                .collect(Collectors.toSet());
    }
}
