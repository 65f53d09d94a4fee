package io.blockmover.mover.cli;

import io.blockmover.mover.transport.nbd.ConnectOptions;
import io.blockmover.mover.transport.nbd.ExportInfo;
import io.blockmover.mover.transport.nbd.NbdClient;
import io.blockmover.mover.transport.nbd.NbdDiskSource;
import io.blockmover.mover.transport.nbd.NbdUri;

import static io.blockmover.nbd.protocol.NbdConstants.BASE_ALLOCATION;

import java.util.Map;
import java.util.LinkedHashMap;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code blockmover nbd-info URI}: what an NBD export offers, and optionally its map. */
@Command(name = "nbd-info", mixinStandardHelpOptions = true,
        description = "Show an NBD export's size, flags, block sizes and meta contexts (and its map with --map).")
public final class NbdInfoCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "URI", description = "nbd://host[:port]/export, nbds://, nbd+unix:///export?socket=PATH, nbds+unix://")
    String uri;

    @Option(names = "--map", description = "Print the extents of a meta context (see --context).")
    boolean map;

    @Option(names = "--context", paramLabel = "CONTEXT", defaultValue = BASE_ALLOCATION,
            description = "The meta context --map prints, e.g. qemu:dirty-bitmap:bm0 (default ${DEFAULT-VALUE}).")
    String context;

    @Mixin
    ConnectionOptions connection;

    @Mixin
    JsonOption output;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<String> extra = context.equals(BASE_ALLOCATION) ? List.of() : List.of(context);
        ConnectOptions options = connection.options(1).withMetaContexts(extra).withListContexts(true);
        try (NbdClient client = NbdClient.connect(connection.uri(uri), options)) {
            if (map) {
                printMap(out, client, context, output.json);
            } else if (output.json) {
                out.println(JsonWriter.write(infoJson(client.info(), client.uri())));
            } else {
                printInfo(out, client.info(), client.uri());
            }
        }
        out.flush();
        return 0;
    }

    private static void printInfo(PrintWriter out, ExportInfo i, NbdUri uri) {
        out.printf("uri: %s%n", uri);
        out.printf("export: \"%s\"%n", i.exportName());
        if (!i.description().isEmpty()) {
            out.printf("description: %s%n", i.description());
        }
        out.printf("size: %d%n", i.size());
        out.printf("flags: 0x%x %s%n", i.transmissionFlags(), String.join(" ", i.flagNames()));
        out.printf("block sizes: minimum %d, preferred %d, maximum %d%s%n", i.blockConstraints().minimum(),
                i.blockConstraints().preferred(), i.blockConstraints().maximum(),
                i.serverSentBlockSizes() ? "" : " (protocol defaults; the server sent none)");
        out.printf("negotiation: %s, %s replies, TLS %s%n", i.usedGo() ? "GO" : "EXPORT_NAME",
                i.structuredReplies() ? "structured" : "simple", i.tls() ? "yes" : "no");
        for (String c : i.availableContexts()) {
            out.printf("context: %s%n", c);
        }
        if (i.availableContexts().isEmpty()) {
            i.metaContexts().keySet().forEach(c -> out.printf("context: %s%n", c));
        }
    }

    private static Map<String, Object> infoJson(ExportInfo i, NbdUri uri) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("uri", uri.toString());
        m.put("export", i.exportName());
        m.put("description", i.description());
        m.put("size", i.size());
        m.put("flags", i.transmissionFlags());
        m.put("flagNames", i.flagNames());
        m.put("blockSizes", Map.of("minimum", i.blockConstraints().minimum(), "preferred", i.blockConstraints().preferred(),
                "maximum", i.blockConstraints().maximum(), "fromServer", i.serverSentBlockSizes()));
        m.put("negotiation", i.usedGo() ? "GO" : "EXPORT_NAME");
        m.put("structuredReplies", i.structuredReplies());
        m.put("tls", i.tls());
        m.put("contexts", i.availableContexts().isEmpty() ? List.copyOf(i.metaContexts().keySet()) : i.availableContexts());
        return m;
    }

    private static void printMap(PrintWriter out, NbdClient client, String context, boolean json) throws Exception {
        if (!client.info().metaContexts().containsKey(context)) {
            throw new IllegalArgumentException("the server did not agree to meta context '" + context + "'"
                    + (client.info().structuredReplies() ? "" : " (it has no structured replies)"));
        }
        NbdDiskSource source = new NbdDiskSource(client);
        if (json) {
            // One extent per line (JSON Lines): a map of a large disk streams instead of piling up.
            source.walk(context, 0, client.info().size(), (offset, length, flags) -> out.println(JsonWriter.write(
                    Map.of("offset", offset, "length", length, "flags", flags, "type", describe(context, flags))))).get();
            return;
        }
        source.walk(context, 0, client.info().size(), (offset, length, flags) ->
                out.printf("%12d %12d %4d  %s%n", offset, length, flags, describe(context, flags))).get();
    }

    private static String describe(String context, int flags) {
        if (context.equals(BASE_ALLOCATION)) {
            return switch (flags & 3) {
                case 0 -> "data";
                case 1 -> "hole";
                case 2 -> "zero";
                default -> "hole,zero";
            };
        }
        return (flags & 1) != 0 ? "dirty" : "clean";
    }
}
