package io.blockmover.index;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import com.tngtech.archunit.library.Architectures;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * index in strict layers, bottom to top: each package imports only those below it, so a reader
 * can learn it in this order and a change to one layer cannot reach down into another.
 */
class LayersTest {
    /** Main classes only: any build directory's test-classes (ArchUnit's own option knows only target/test-classes). */
    static final ImportOption MAIN_ONLY = location -> !location.contains("/test-classes/");

    /** Bottom first. {@code repo} includes its non-exported {@code repo.internal}. */
    static final List<String> LAYERS = List.of("format", "pack", "chunk", "db", "manifest", "backup", "repo", "maintenance", "s3");

    static ArchRule layering() {
        LayeredArchitecture arch = Architectures.layeredArchitecture().consideringOnlyDependenciesInLayers();
        for (String l : LAYERS) {
            arch = arch.layer(l).definedBy("io.blockmover.index." + l + "..");
        }
        for (int i = 0; i < LAYERS.size(); i++) {
            List<String> above = LAYERS.subList(i + 1, LAYERS.size());
            arch = above.isEmpty()
                    ? arch.whereLayer(LAYERS.get(i)).mayNotBeAccessedByAnyLayer()
                    : arch.whereLayer(LAYERS.get(i)).mayOnlyBeAccessedByLayers(above.toArray(String[]::new));
        }
        return arch;
    }

    private static JavaClasses mainClasses() {
        return new ClassFileImporter().withImportOption(MAIN_ONLY)
                .importPackages("io.blockmover.index");
    }

    @Test
    void everyPackageImportsOnlyThoseBelowIt() {
        JavaClasses classes = mainClasses();
        // Every package of the module is in a layer: a new one must be placed, not slip past the rule.
        List<String> unplaced = classes.stream().map(c -> c.getPackageName().substring("io.blockmover.index.".length()))
                .map(p -> p.split("\\.")[0]).distinct().filter(p -> !LAYERS.contains(p)).toList();
        assertEquals(List.of(), unplaced, "packages in no layer");
        layering().check(classes);
    }

    @Test
    void anUpwardImportIsCaught() {
        // A class of format (test code, so not in the check above) that reaches up to repo.
        JavaClasses withViolation = new ClassFileImporter().importPackages("io.blockmover.index");
        EvaluationResult r = layering().evaluate(withViolation);
        assertTrue(r.hasViolation());
        assertTrue(r.getFailureReport().getDetails().stream().anyMatch(d -> d.contains("LayerViolationFixture")),
                () -> String.join("\n", r.getFailureReport().getDetails()));
    }
}
