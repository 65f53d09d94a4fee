package io.blockmover.mover.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The proxy's limits and credentials come from the config file's serve: section; a flag still wins. */
class ServeConfigTest {
    @TempDir
    Path dir;

    @Test
    void limitsComeFromTheConfigFile() throws Exception {
        Path config = dir.resolve("blockmover.yaml");
        Files.writeString(config, """
                serve:
                  max-jobs: 3
                  max-disks: 9
                  max-connections-per-host: 5
                  max-queue: 40
                  token-file: /etc/blockmover/tokens
                """);
        String[] args = {"serve", "--config", config.toString(), "--max-queue", "50"};
        CommandLine cl = Main.commandLine(args);
        cl.setDefaultValueProvider(ConfigFile.load(config));
        CommandLine.ParseResult parsed = cl.parseArgs(args);
        ServeCommand serve = (ServeCommand) parsed.subcommand().commandSpec().userObject();
        assertEquals(3, serve.maxJobs);
        assertEquals(9, serve.maxDisks);
        assertEquals(5, serve.maxConnectionsPerHost);
        assertEquals(50, serve.maxQueue, "the flag wins over the file");
        assertEquals(Path.of("/etc/blockmover/tokens"), serve.tokenFile);
    }

    @Test
    void withoutTheFileTheDefaultsAreTheDocumentedOnes() {
        String[] args = {"serve"};
        ServeCommand serve = (ServeCommand) Main.commandLine(args).parseArgs(args).subcommand().commandSpec().userObject();
        assertEquals(2, serve.maxJobs);
        assertEquals(io.blockmover.mover.api.JobLimits.DEFAULT_CONNECTIONS_PER_HOST, serve.maxConnectionsPerHost);
        assertEquals(1000, serve.maxQueue);
    }
}
