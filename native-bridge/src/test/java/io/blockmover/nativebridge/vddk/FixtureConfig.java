package io.blockmover.nativebridge.vddk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Writes the VDDK test fixture's config file: which NBD export a (VM, snapshot, disk path) is, and refused modes. */
final class FixtureConfig {
    private final List<String> lines = new ArrayList<>();

    FixtureConfig disk(String vmMoref, String snapshotMoref, String path, String export) {
        lines.add("fixture.disk = " + vmMoref + "|" + snapshotMoref + "|" + path + "|" + export);
        return this;
    }

    FixtureConfig refuse(String modes) {
        lines.add("fixture.refuseModes = " + modes);
        return this;
    }

    Path write(Path file) throws IOException {
        Files.write(file, lines);
        return file;
    }

    static Path fixtureDir() {
        return Path.of(System.getProperty("bm.vddkFixtureDir", "target/vddk-test-fixture"));
    }
}
