package io.blockmover.nbd.esx;

/**
 * One grain as last written: its data, the CBT sequence of the write ({@code tag}), and the
 * snapshot epoch it was created in. Data of an older epoch may be shared with a snapshot, so a
 * writer copies it instead of changing it in place.
 */
record GrainVersion(GrainData data, long tag, long epoch) {}
