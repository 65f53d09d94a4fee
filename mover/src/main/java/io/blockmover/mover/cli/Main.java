package io.blockmover.mover.cli;

import io.blockmover.mover.pipeline.UserMessages;
import io.blockmover.mover.transport.nbd.NbdClient;

import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code blockmover} command. Each capability is a subcommand; errors reach the user as one
 * line (and exit code 1) unless {@code --debug} asks for the stack trace.
 */
@Command(name = "blockmover",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Block-level data mover for virtual-machine backup.")
public final class Main implements Runnable {

    /** In the order {@code --help} lists them. */
    private static final List<Class<?>> SUBCOMMANDS = List.of(
            CommandLine.HelpCommand.class,
            InitCommand.class,
            BackupCommand.class,
            RestoreCommand.class,
            ExportCommand.class,
            FilesCommand.class,
            VerifyCommand.class,
            ListCommand.class,
            ShowCommand.class,
            PruneCommand.class,
            GcCommand.class,
            StatsCommand.class,
            RebuildIndexCommand.class,
            NbdInfoCommand.class,
            NbdCopyCommand.class,
            EsxSimCommand.class,
            VmCommand.class,
            CbtCommand.class,
            ServeCommand.class);

    @Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
            description = "Show stack traces and debug logging.")
    boolean debug;

    @Option(names = "--config", paramLabel = "FILE", scope = CommandLine.ScopeType.INHERIT,
            description = "YAML file with defaults for options (keys: option names; sections per command); "
                    + "flags override it. Default: $" + ConfigFile.ENV + ".")
    java.nio.file.Path config;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        int exit = execute(args);
        try {
            NbdClient.stopSharedEventLoops();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        System.exit(exit);
    }

    private static final String YAVIJAVA_LOG = "org.slf4j.simpleLogger.log.com.vmware";
    private static final String NETTY_PIPELINE_LOG = "org.slf4j.simpleLogger.log.io.netty.channel.DefaultChannelPipeline";

    /** Runs the command line and returns the exit code (used by tests as well as main). */
    public static int execute(String... args) {
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        if (debug) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "debug");
            // gRPC's Netty logs every HTTP/2 frame at debug level, headers and all: the bearer
            // tokens of the proxy's callers would land in the log (ProxyRestartTest greps for them).
            System.setProperty("org.slf4j.simpleLogger.log.io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler", "info");
            System.setProperty("org.slf4j.simpleLogger.log.io.grpc.netty.shaded.io.grpc.netty.NettyClientHandler", "info");
        } else if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        if (!debug && System.getProperty(YAVIJAVA_LOG) == null) {
            // yavijava logs every vSphere fault at ERROR with a stack trace before throwing it; the
            // command reports the fault in one line itself.
            System.setProperty(YAVIJAVA_LOG, "off");
        }
        if (!debug && System.getProperty(NETTY_PIPELINE_LOG) == null) {
            // The AWS SDK's Netty client reports a request it aborted itself (a timeout it retries, a
            // request cut off at close) as an unhandled exception with a stack trace (aws-sdk-java-v2
            // issues 452 and 2713); the object store's retries and errors are reported in one line.
            System.setProperty(NETTY_PIPELINE_LOG, "error");
        }
        CommandLine cl = commandLine(args);
        try {
            ConfigFile.locate(args).ifPresent(cl::setDefaultValueProvider);
        } catch (java.io.IOException e) {
            System.err.println("blockmover: " + e.getMessage());
            return 1;
        }
        cl.setParameterExceptionHandler((ex, ignored) -> {
            CommandLine cmd = ex.getCommandLine();
            java.util.List<String> secrets = SecretArguments.secrets(cmd.getCommandSpec(), args);
            cmd.getErr().println("blockmover: " + SecretArguments.mask(ex.getMessage(), secrets));
            if (!CommandLine.UnmatchedArgumentException.printSuggestions(ex, cmd.getErr())) {
                cmd.getErr().println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for the options.");
            }
            return cmd.getCommandSpec().exitCodeOnInvalidInput();
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (debug) {
                ex.printStackTrace(cmd.getErr());
            } else {
                cmd.getErr().println("blockmover: " + UserMessages.describe(ex));
            }
            return 1;
        });
        return cl.execute(args);
    }

    /**
     * Picocli builds the model of every registered command up front, which cost about a third of
     * a second of every run. A run names one subcommand, so only that one is registered; help,
     * errors and suggestions (no known subcommand named) get them all.
     */
    static CommandLine commandLine(String... args) {
        CommandLine cl = new CommandLine(new Main());
        Class<?> named = namedSubcommand(args);
        for (Class<?> type : named == null ? SUBCOMMANDS : List.<Class<?>>of(named)) {
            cl.addSubcommand(type);
        }
        return cl;
    }

    /** The subcommand the first non-option argument names, or null. */
    private static Class<?> namedSubcommand(String... args) {
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--config")) {
                i++;
            } else if (!arg.startsWith("-")) {
                for (Class<?> type : SUBCOMMANDS) {
                    if (type != CommandLine.HelpCommand.class && type.getAnnotation(Command.class).name().equals(arg)) {
                        return type;
                    }
                }
                return null;
            }
        }
        return null;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"blockmover " + (v == null ? "dev" : v)};
        }
    }
}
