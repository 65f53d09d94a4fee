package io.blockmover.nbd.esx;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The emulated ESX host's inventory. Everything is derived from the host seed: VM and disk uuids
 * as well as disk content, so two hosts built the same way are identical, and
 * {@link #contentOf} tells a test what any disk holds without a host.
 */
public final class EsxHost {
    private static final long UUID_SALT = 0x75756964L;

    private final long seed;
    private final List<VirtualMachine> vms = new CopyOnWriteArrayList<>();
    private final AtomicInteger snapshotNumbers = new AtomicInteger(1);

    public EsxHost(long seed) {
        this.seed = seed;
    }

    /** Builds the host a {@link HostSpec} describes. */
    public static EsxHost generate(HostSpec spec) {
        EsxHost host = new EsxHost(spec.seed());
        for (int i = 1; i <= spec.vms(); i++) {
            List<DiskConfig> disks = new ArrayList<>();
            for (int d = 0; d < spec.disksPerVm(); d++) {
                int firstIndependent = spec.disksPerVm() - spec.independentDisksPerVm();
                DiskMode mode = d < firstIndependent ? DiskMode.PERSISTENT : DiskMode.INDEPENDENT_PERSISTENT;
                boolean rdm = d < firstIndependent && d >= firstIndependent - spec.rdmDisksPerVm();
                disks.add(new DiskConfig(spec.diskSize(), spec.profile(), mode, !rdm, rdm));
            }
            VirtualMachine vm = host.addVm(String.format("vm%02d", i), disks);
            if (spec.cbt()) {
                vm.enableCbt();
            }
        }
        return host;
    }

    /** The generator key of a disk: the VM's ordinal (1-based, in creation order) and the device key. */
    public static long diskKey(int vmOrdinal, int deviceKey) {
        return ((long) vmOrdinal << 20) | deviceKey;
    }

    /** The base content of a disk of a host with this seed, computable without the host. */
    public static DiskContent contentOf(long seed, int vmOrdinal, int deviceKey, Profile profile, long capacity) {
        return new DiskContent(seed, diskKey(vmOrdinal, deviceKey), profile, capacity);
    }

    public long seed() {
        return seed;
    }

    /**
     * Adds a powered-on VM (moref {@code vm-<10+ordinal>}, IP {@code 10.0.x.y}) whose disks get
     * device keys 2000, 2001, ... and paths {@code [datastore1] <vm>/<vm>.vmdk}, {@code <vm>_1.vmdk}, ...
     */
    public synchronized VirtualMachine addVm(String name, List<DiskConfig> diskConfigs) {
        return addVm(name, diskConfigs, (ordinal, key, c) -> contentOf(seed, ordinal, key, c.profile(), c.capacity()));
    }

    /** Adds a powered-on VM with one thin disk (device key 2000) whose base content is a raw image file. */
    public synchronized VirtualMachine addImageVm(String name, ImageContent image) {
        return addVm(name, List.of(DiskConfig.thin(image.capacity(), Profile.EMPTY)), (ordinal, key, c) -> image);
    }

    /** Chooses the base content of the disk with this key of the VM with this ordinal. */
    @FunctionalInterface
    private interface ContentSource {
        BaseContent contentOf(int vmOrdinal, int deviceKey, DiskConfig config);
    }

    private VirtualMachine addVm(String name, List<DiskConfig> diskConfigs, ContentSource contents) {
        if (!ExportNames.isValidComponent(name)) {
            // The name becomes export names, which backups turn into file names.
            throw new IllegalArgumentException("bad VM name '" + name + "' (1 to 64 letters, digits, '.', '_', '-'; not . or ..)");
        }
        if (vm(name).isPresent()) {
            throw new IllegalArgumentException("a VM named " + name + " exists already");
        }
        int ordinal = vms.size() + 1;
        VmIdentity id = new VmIdentity(name, uuid(ordinal, 0), uuid(ordinal, 1), "vm-" + (10 + ordinal),
                "10.0." + (ordinal / 250) + "." + (ordinal % 250 + 2), PowerState.POWERED_ON, 19);
        List<VirtualDisk> disks = new ArrayList<>();
        ReentrantReadWriteLock vmLock = new ReentrantReadWriteLock();
        for (int d = 0; d < diskConfigs.size(); d++) {
            DiskConfig c = diskConfigs.get(d);
            int key = 2000 + d;
            String file = "[datastore1] " + name + "/" + name + (d == 0 ? "" : "_" + d) + ".vmdk";
            DiskSpec spec = new DiskSpec(key, file, c.capacity(), c.thin(), c.mode(), uuid(ordinal, key), c.physicalRdm());
            disks.add(new VirtualDisk(spec, contents.contentOf(ordinal, key, c), vmLock));
        }
        VirtualMachine vm = new VirtualMachine(id, disks, vmLock, () -> "snapshot-" + snapshotNumbers.getAndIncrement());
        vms.add(vm);
        return vm;
    }

    private String uuid(int ordinal, int deviceKey) {
        return new UUID(Generators.derive(seed ^ UUID_SALT, ordinal, deviceKey),
                Generators.derive(seed ^ UUID_SALT, deviceKey, ordinal)).toString();
    }

    public List<VirtualMachine> vms() {
        return List.copyOf(vms);
    }

    public Optional<VirtualMachine> vm(String name) {
        return vms.stream().filter(v -> v.name().equals(name)).findFirst();
    }

    /** A VM by name, or an error that names the known VMs. */
    public VirtualMachine requireVm(String name) {
        return vm(name).orElseThrow(() -> new IllegalArgumentException("no VM named '" + name + "' (have "
                + vms.stream().map(VirtualMachine::name).toList() + ")"));
    }
}
