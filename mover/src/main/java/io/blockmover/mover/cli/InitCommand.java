package io.blockmover.mover.cli;

import io.blockmover.index.chunk.Compression;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.nbd.units.Sizes;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.Map;
import java.util.LinkedHashMap;
import java.io.IOException;
import java.util.concurrent.Callable;

/** {@code blockmover init}: creates a repository. */
@Command(name = "init", mixinStandardHelpOptions = true, description = "Create a repository.")
final class InitCommand implements Callable<Integer> {

    @Mixin
    RepositoryOptions repository;

    @Option(names = "--chunk-size", paramLabel = "SIZE",
            description = "Chunk size, a power of two from 64K to 4M (default " + (InitOptions.DEFAULT_CHUNK_SIZE >> 10) + "K).")
    String chunkSize;

    @Option(names = "--frame-size", paramLabel = "SIZE",
            description = "Frames: up to SIZE of consecutive new chunks of a disk compressed together (a multiple of the chunk "
                    + "size up to 4M; the chunk size = one chunk per record, readable by builds before format 3). Larger frames "
                    + "store less, a random read of a chunk decodes more. Default: " + InitOptions.DEFAULT_FRAME_CHUNKS
                    + " chunk(s).")
    String frameSize;

    @Option(names = "--compression", paramLabel = "CODEC",
            description = "Codec of new chunks: zstd:N (level 1..22), lz4 (fastest), or auto:N (lz4 while the backup is "
                    + "compression-bound, zstd:N while it waits on I/O). Default: ${DEFAULT-VALUE}.")
    String compression = InitOptions.DEFAULT_COMPRESSION.toString();

    @Option(names = "--zstd-level", paramLabel = "N", description = "Short for --compression zstd:N.")
    Integer zstdLevel;

    @Option(names = "--encrypt", description = "Encrypt chunks with AES-256-GCM under a key derived from the passphrase "
            + "(from --passphrase-file or $" + RepositoryOptions.PASSPHRASE_ENV + ").")
    boolean encrypt;

    @Option(names = "--subchunk-dedup", paramLabel = "on|off",
            description = "Deduplicate 4 KiB blocks inside new chunks against stored chunks (a copied file inside a guest "
                    + "file system), storing such a chunk as a recipe; local repositories only. Default: on for a local "
                    + "repository, off in an object store.")
    String subchunkDedup;

    @Mixin
    JsonOption output;

    @Override
    public Integer call() throws IOException {
        InitOptions options = InitOptions.defaults().withCompression(
                zstdLevel != null ? Compression.zstd(zstdLevel) : Compression.parse(compression));
        if (subchunkDedup != null) {
            boolean on = switch (subchunkDedup) {
                case "on" -> true;
                case "off" -> false;
                default -> throw new IllegalArgumentException("--subchunk-dedup takes on or off, not '" + subchunkDedup + "'");
            };
            if (on && repository.inObjectStore()) {
                throw new IllegalArgumentException("--subchunk-dedup on is for local repositories: an object store's index "
                        + "segments carry no recipes");
            }
            options = options.withSubchunkDedup(on);
        }
        if (chunkSize != null) {
            options = options.withChunkSize((int) Sizes.parseBytes(chunkSize));
        }
        if (frameSize != null) {
            options = options.withFrameSize((int) Sizes.parseBytes(frameSize));
        }
        if (encrypt) {
            char[] pass = repository.passphrase();
            if (pass == null) {
                throw new IllegalArgumentException("--encrypt needs a passphrase: --passphrase-file FILE or $"
                        + RepositoryOptions.PASSPHRASE_ENV);
            }
            options = options.withPassphrase(pass, InitOptions.defaults().kdfIterations());
        }
        try (Repository repo = repository.init(options)) {
            if (output.json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("repository", repository.describe());
                m.put("repoId", repo.config().repoId());
                m.put("chunkSize", repo.config().chunkSize());
                m.put("compression", repo.config().compression().toString());
                m.put("frameSize", repo.config().frameSize());
                m.put("encrypted", encrypt);
                m.put("subchunkDedup", repo.config().subchunkDedup());
                System.out.println(JsonWriter.write(m));
                return 0;
            }
            System.out.printf("created repository %s (chunk size %s, frames of up to %s, compression %s%s%s)%n", repository.describe(),
                    Sizes.human(repo.config().chunkSize()), Sizes.human(repo.config().frameSize()), repo.config().compression(),
                    encrypt ? ", encrypted" : "", repo.config().subchunkDedup() ? ", 4 KiB sub-chunk dedup" : "");
        }
        return 0;
    }
}
