package io.blockmover.mover.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Only the subcommand a run names is modelled; help and mistakes still see every command. */
class MainTest {
    private static final Set<String> ALL = Set.of("help", "init", "backup", "restore", "export", "files", "verify", "list", "show",
            "prune", "gc", "stats", "rebuild-index", "nbd-info", "nbd-copy", "esxsim", "vm", "cbt", "serve");

    private static Set<String> registered(String... args) {
        return Main.commandLine(args).getSubcommands().keySet();
    }

    @Test
    void aRunModelsOnlyTheSubcommandItNames() {
        assertEquals(Set.of("backup"), registered("backup", "--repo", "r", "--source", "nbd://h/list"));
        assertEquals(Set.of("list"), registered("--debug", "list", "--repo", "r"));
        assertEquals(Set.of("stats"), registered("--config", "list", "stats", "--repo", "r"));
    }

    @Test
    void helpAndUnknownWordsSeeEveryCommand() {
        assertEquals(ALL, registered());
        assertEquals(ALL, registered("--help"));
        assertEquals(ALL, registered("help", "backup"));
        assertEquals(ALL, registered("bakup", "--repo", "r"));
    }

    @Test
    void aMistypedSubcommandIsStillSuggested() {
        CommandLine cl = Main.commandLine("bakup");
        java.io.StringWriter err = new java.io.StringWriter();
        cl.setErr(new java.io.PrintWriter(err));
        assertEquals(2, cl.execute("bakup"));
        assertTrue(err.toString().contains("backup"), err.toString());
    }
}
