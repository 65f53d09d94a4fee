/**
 * The chunk store. Its packages form strict layers (format, pack, chunk, db, manifest, backup,
 * repo, maintenance: each imports only those before it; LayersTest). Exported is what mover and
 * bench use: repo is the face a job uses, maintenance the operator's tools, and pack, chunk and db
 * only because bench's JMH benchmarks measure them on their own. repo.internal, the way into an
 * open repository's shared parts, stays inside.
 *
 * <p>mover and bench are not modules (Netty, gRPC and picocli sit on their class path), so the
 * JVM reads this module from the class path there and cannot enforce the exports; mover's
 * ArchitectureTest reads this descriptor and enforces them instead.
 */
// RocksDB's jar names no module (its name comes from the file), and its types are part of db's API.
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module io.blockmover.index {
    requires transitive rocksdbjni;
    requires com.github.luben.zstd_jni;
    requires org.lz4.java;
    requires org.slf4j;

    exports io.blockmover.index.format;
    exports io.blockmover.index.pack;
    exports io.blockmover.index.chunk;
    exports io.blockmover.index.db;
    exports io.blockmover.index.manifest;
    exports io.blockmover.index.backup;
    exports io.blockmover.index.repo;
    exports io.blockmover.index.maintenance;
}
