package io.blockmover.mover.cli;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Defaults for command-line options from a YAML file ({@code --config FILE} or
 * {@code $BLOCKMOVER_CONFIG}); flags given on the command line always win. Keys are option
 * names without the dashes; a section named after a command applies to that command only:
 *
 * <pre>
 * repo: /backups/blockmover
 * max-retries: 8
 * backup:
 *   parallel-disks: 4
 *   connections: 4
 * </pre>
 */
final class ConfigFile implements CommandLine.IDefaultValueProvider {
    static final String ENV = "BLOCKMOVER_CONFIG";

    private final Path path;
    private final Map<String, Object> values;

    private ConfigFile(Path path, Map<String, Object> values) {
        this.path = path;
        this.values = values;
    }

    /** The file named by {@code --config} in {@code args} or by the environment, if any. */
    static Optional<ConfigFile> locate(String[] args) throws IOException {
        String named = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config") && i + 1 < args.length) {
                named = args[i + 1];
            } else if (args[i].startsWith("--config=")) {
                named = args[i].substring("--config=".length());
            }
        }
        if (named == null) {
            named = System.getenv(ENV);
        }
        return named == null || named.isBlank() ? Optional.empty() : Optional.of(load(Path.of(named)));
    }

    static ConfigFile load(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            throw new IOException("config file " + path + " does not exist");
        }
        Object root;
        try (Reader r = Files.newBufferedReader(path)) {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
        } catch (RuntimeException e) {
            throw new IOException("config file " + path + " is not valid YAML: " + e.getMessage().replaceAll("\\s+", " "), e);
        }
        if (root == null) {
            return new ConfigFile(path, Map.of());
        }
        if (!(root instanceof Map<?, ?> map)) {
            throw new IOException("config file " + path + " must be a map of option names to values");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> values = (Map<String, Object>) map;
        return new ConfigFile(path, values);
    }

    @Override
    public String defaultValue(ArgSpec arg) {
        if (!(arg instanceof OptionSpec option) || option.longestName().equals("--config")) {
            return null;
        }
        String key = option.longestName().replaceFirst("^-+", "");
        CommandSpec command = option.command();
        Object v = null;
        if (command != null && values.get(command.name()) instanceof Map<?, ?> section) {
            v = section.get(key);
        }
        if (v == null) {
            v = values.get(key);
        }
        if (v == null) {
            return null;
        }
        if (v instanceof Map<?, ?>) {
            throw new CommandLine.ParameterException(command == null ? null : command.commandLine(),
                    "config file " + path + ": '" + key + "' must be a value, not a section");
        }
        return v instanceof List<?> list ? String.join(",", list.stream().map(String::valueOf).toList()) : String.valueOf(v);
    }
}
