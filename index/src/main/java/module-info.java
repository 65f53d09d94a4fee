/**
 * The chunk store. Its packages form strict layers (format, pack, chunk, db, manifest, backup,
 * repo, maintenance: each imports only those before it; LayersTest). Exported is what mover and
 * bench use: repo is the face a job uses, maintenance the operator's tools, and pack, chunk and db
 * only because bench's JMH benchmarks measure them on their own; s3 opens repositories that live in
 * an object store. repo.internal, the way into an
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
    // The s3 layer: the AWS SDK's async S3 client on Netty (automatic modules named by their jars).
    requires software.amazon.awssdk.services.s3;
    requires software.amazon.awssdk.core;
    requires software.amazon.awssdk.auth;
    requires software.amazon.awssdk.regions;
    requires software.amazon.awssdk.profiles;
    requires software.amazon.awssdk.retries;
    requires software.amazon.awssdk.http;
    requires software.amazon.awssdk.http.nio.netty;
    requires software.amazon.awssdk.awscore;
    requires software.amazon.awssdk.utils;
    requires io.netty.transport;
    requires io.netty.common;
    requires org.reactivestreams; // the SDK hands a response body over as a reactive-streams publisher

    exports io.blockmover.index.format;
    exports io.blockmover.index.pack;
    exports io.blockmover.index.chunk;
    exports io.blockmover.index.db;
    exports io.blockmover.index.manifest;
    exports io.blockmover.index.backup;
    exports io.blockmover.index.repo;
    exports io.blockmover.index.maintenance;
    exports io.blockmover.index.s3;
}
