package io.blockmover.nbd.esx;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/** A VM of the emulated host: identity, disks and snapshots. */
public final class VirtualMachine {
    private final VmIdentity identity;
    private final List<VirtualDisk> disks;
    private final Map<String, Snapshot> snapshots = new LinkedHashMap<>();
    private final ReentrantReadWriteLock freezeLock;
    private final Supplier<String> snapshotMorefs;
    private volatile GuestInfo guest;

    /** @param freezeLock the lock every disk of this VM writes under (see {@link VirtualDisk}) */
    VirtualMachine(VmIdentity identity, List<VirtualDisk> disks, ReentrantReadWriteLock freezeLock,
                   Supplier<String> snapshotMorefs) {
        this.identity = identity;
        this.disks = List.copyOf(disks);
        this.freezeLock = freezeLock;
        this.snapshotMorefs = snapshotMorefs;
        this.guest = new GuestInfo(identity.ip(), identity.name() + ".guest.lab");
    }

    public VmIdentity identity() {
        return identity;
    }

    public String name() {
        return identity.name();
    }

    public List<VirtualDisk> disks() {
        return disks;
    }

    public Optional<VirtualDisk> disk(int deviceKey) {
        return disks.stream().filter(d -> d.spec().deviceKey() == deviceKey).findFirst();
    }

    /** Enables CBT on every disk that supports it (independent disks and physical RDMs do not). */
    public void enableCbt() {
        disks.stream().filter(d -> d.spec().snapshotted()).forEach(VirtualDisk::enableCbt);
    }

    public void disableCbt() {
        disks.forEach(VirtualDisk::disableCbt);
    }

    /** Disables and re-enables CBT on every disk that supports it: every changeId so far becomes invalid. */
    public void resetCbt() {
        disks.stream().filter(d -> d.spec().snapshotted()).forEach(VirtualDisk::resetCbt);
    }

    /** Whether CBT is on, as {@code config.changeTrackingEnabled} shows it (any trackable disk tracked). */
    public boolean cbtEnabled() {
        return disks.stream().anyMatch(VirtualDisk::cbtEnabled);
    }

    /** What guest tools report: the guest's IP and DNS name (tests change them to make lookups ambiguous). */
    public record GuestInfo(String ipAddress, String hostName) {}

    public GuestInfo guest() {
        return guest;
    }

    public void guest(GuestInfo info) {
        this.guest = info;
    }

    /**
     * Creates a snapshot: every non-independent disk frozen at a new changeId, all at the same
     * instant (no write to any disk of the VM runs meanwhile), like a crash-consistent vSphere
     * snapshot.
     */
    public Snapshot createSnapshot(String name) {
        return createSnapshot(name, "", false, false);
    }

    /** Like vSphere's {@code CreateSnapshot_Task(name, description, memory, quiesce)}. */
    public synchronized Snapshot createSnapshot(String name, String description, boolean memory, boolean quiesce) {
        if (!ExportNames.isValidComponent(name)) {
            throw new IllegalArgumentException("bad snapshot name '" + name + "' (letters, digits, '.', '_', '-')");
        }
        if (snapshots.containsKey(name)) {
            throw new IllegalArgumentException("VM " + name() + " already has a snapshot named " + name);
        }
        List<SnapshotDisk> frozen = new ArrayList<>();
        freezeLock.writeLock().lock();
        try {
            for (VirtualDisk d : disks) {
                if (d.spec().snapshotted()) {
                    frozen.add(new SnapshotDisk(d, d.freeze()));
                }
            }
        } finally {
            freezeLock.writeLock().unlock();
        }
        Snapshot s = new Snapshot(name, snapshotMorefs.get(), Instant.now(), frozen, description, memory, quiesce);
        snapshots.put(name, s);
        return s;
    }

    /** Removes a snapshot; its grains are freed once no open export reads them. */
    public synchronized Snapshot removeSnapshot(String name) {
        Snapshot s = snapshots.remove(name);
        if (s == null) {
            throw new IllegalArgumentException("VM " + name() + " has no snapshot named " + name);
        }
        return s;
    }

    public synchronized Optional<Snapshot> snapshot(String name) {
        return Optional.ofNullable(snapshots.get(name));
    }

    /** Snapshots in creation order. */
    public synchronized List<Snapshot> snapshots() {
        return List.copyOf(snapshots.values());
    }
}
