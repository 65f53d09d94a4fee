package io.blockmover.nbd.esx;

/** What the generator puts in one 64 KiB grain of a disk's base content. */
public enum GrainClass {
    /** Unallocated: reads as zeros and is reported as a hole. */
    HOLE,
    /** Allocated but all zero bytes. */
    ZERO,
    /** A copy of a block from a small pool shared by every disk of the host (dedup fodder). */
    DUPLICATE,
    /** Text-like words from a fixed vocabulary; compresses about 2-4x with zstd. */
    TEXT,
    /** Incompressible pseudo-random bytes. */
    RANDOM
}
