package io.blockmover.mover.vsphere;

import com.vmware.vim25.ArrayOfVirtualDevice;
import com.vmware.vim25.DynamicProperty;
import com.vmware.vim25.ManagedObjectReference;
import com.vmware.vim25.ObjectContent;
import com.vmware.vim25.ObjectSpec;
import com.vmware.vim25.PropertyFilterSpec;
import com.vmware.vim25.PropertySpec;
import com.vmware.vim25.RetrieveOptions;
import com.vmware.vim25.RetrieveResult;
import com.vmware.vim25.VirtualDevice;
import com.vmware.vim25.VirtualDeviceBackingInfo;
import com.vmware.vim25.VirtualDisk;
import com.vmware.vim25.VirtualDiskFlatVer2BackingInfo;
import com.vmware.vim25.VirtualDiskRawDiskMappingVer1BackingInfo;
import com.vmware.vim25.VirtualDiskSparseVer2BackingInfo;
import com.vmware.vim25.VirtualMachineSnapshotInfo;
import com.vmware.vim25.VirtualMachineSnapshotTree;
import com.vmware.vim25.mo.ServiceInstance;
import com.vmware.vim25.mo.util.PropertyCollectorUtil;

import java.rmi.RemoteException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.HashMap;

/**
 * Reads VMs and snapshots with the PropertyCollector: one call for every VM of the inventory
 * (paged with RetrievePropertiesEx), one for a single VM, never a call per property.
 */
public final class VmInventory {
    static final String[] VM_PATHS = {"name", "config.uuid", "config.instanceUuid", "config.changeTrackingEnabled",
            "config.hardware.device", "snapshot", "runtime.powerState", "guest.ipAddress", "guest.hostName"};
    private static final int PAGE = 100;

    private final VcenterConnection connection;

    public VmInventory(VcenterConnection connection) {
        this.connection = connection;
    }

    /** Every VM under the root folder, walked with yavijava's full traversal specs. */
    public List<VmInfo> list() throws RemoteException, VsphereException {
        return walk(VM_PATHS);
    }

    /** The moref and name of every VM (a name lookup needs no more; a VM's devices are kilobytes). */
    public List<VmInfo> names() throws RemoteException, VsphereException {
        return walk(new String[] {"name"});
    }

    private List<VmInfo> walk(String[] paths) throws RemoteException, VsphereException {
        return connection.call(si -> {
            ObjectSpec os = new ObjectSpec();
            os.setObj(si.getRootFolder().getMOR());
            os.setSkip(Boolean.TRUE);
            os.setSelectSet(PropertyCollectorUtil.buildFullTraversalV4());
            RetrieveOptions options = new RetrieveOptions();
            options.setMaxObjects(PAGE);
            List<VmInfo> out = new ArrayList<>();
            RetrieveResult r = si.getPropertyCollector().retrievePropertiesEx(new PropertyFilterSpec[] {filter(os, paths)}, options);
            while (r != null) {
                if (r.getObjects() != null) {
                    for (ObjectContent oc : r.getObjects()) {
                        out.add(toVm(oc));
                    }
                }
                r = r.getToken() == null ? null : si.getPropertyCollector().continueRetrievePropertiesEx(r.getToken());
            }
            return out;
        });
    }

    /** One VM by moref; ManagedObjectNotFound passes through for the caller. */
    public VmInfo get(String moref) throws RemoteException, VsphereException {
        return connection.call(si -> {
            ObjectSpec os = new ObjectSpec();
            os.setObj(mor("VirtualMachine", moref));
            os.setSkip(Boolean.FALSE);
            List<ObjectContent> ocs = retrieve(si, filter(os, VM_PATHS));
            if (ocs.isEmpty()) {
                throw new VsphereRemote("VM " + moref + " answered no properties");
            }
            return toVm(ocs.getFirst());
        });
    }

    /** The disks of a snapshot, with the changeIds the snapshot froze. */
    public List<VmInfo.Disk> snapshotDisks(String snapshotMoref) throws RemoteException, VsphereException {
        return connection.call(si -> {
            ObjectSpec os = new ObjectSpec();
            os.setObj(mor("VirtualMachineSnapshot", snapshotMoref));
            os.setSkip(Boolean.FALSE);
            PropertySpec ps = new PropertySpec();
            ps.setType("VirtualMachineSnapshot");
            ps.setPathSet(new String[] {"config.hardware.device"});
            PropertyFilterSpec f = new PropertyFilterSpec();
            f.setObjectSet(new ObjectSpec[] {os});
            f.setPropSet(new PropertySpec[] {ps});
            List<ObjectContent> ocs = retrieve(si, f);
            List<VmInfo.Disk> disks = new ArrayList<>();
            if (!ocs.isEmpty() && ocs.getFirst().getPropSet() != null) {
                for (DynamicProperty p : ocs.getFirst().getPropSet()) {
                    disks.addAll(disks(p.getVal()));
                }
            }
            return disks;
        });
    }

    /** RetrievePropertiesEx, following its tokens to the end (RetrieveProperties is deprecated since 4.1). */
    static List<ObjectContent> retrieve(ServiceInstance si, PropertyFilterSpec filter) throws RemoteException {
        List<ObjectContent> out = new ArrayList<>();
        RetrieveResult r = si.getPropertyCollector().retrievePropertiesEx(new PropertyFilterSpec[] {filter}, new RetrieveOptions());
        while (r != null) {
            if (r.getObjects() != null) {
                out.addAll(List.of(r.getObjects()));
            }
            r = r.getToken() == null ? null : si.getPropertyCollector().continueRetrievePropertiesEx(r.getToken());
        }
        return out;
    }

    static ManagedObjectReference mor(String type, String value) {
        ManagedObjectReference m = new ManagedObjectReference();
        m.setType(type);
        m.set_value(value);
        return m;
    }

    private static PropertyFilterSpec filter(ObjectSpec os, String[] paths) {
        PropertySpec ps = new PropertySpec();
        ps.setType("VirtualMachine");
        ps.setAll(Boolean.FALSE);
        ps.setPathSet(paths);
        PropertyFilterSpec f = new PropertyFilterSpec();
        f.setObjectSet(new ObjectSpec[] {os});
        f.setPropSet(new PropertySpec[] {ps});
        return f;
    }

    private static VmInfo toVm(ObjectContent oc) {
        Map<String, Object> p = new HashMap<>();
        if (oc.getPropSet() != null) {
            for (DynamicProperty d : oc.getPropSet()) {
                p.put(d.getName(), d.getVal());
            }
        }
        List<VmInfo.SnapshotInfo> snapshots = new ArrayList<>();
        if (p.get("snapshot") instanceof VirtualMachineSnapshotInfo info && info.getRootSnapshotList() != null) {
            flatten(info.getRootSnapshotList(), snapshots);
        }
        return new VmInfo(oc.getObj().get_value(), string(p, "name"), string(p, "config.uuid"),
                string(p, "config.instanceUuid"), String.valueOf(p.getOrDefault("runtime.powerState", "")),
                Boolean.TRUE.equals(p.get("config.changeTrackingEnabled")), string(p, "guest.ipAddress"),
                string(p, "guest.hostName"), disks(p.get("config.hardware.device")), snapshots);
    }

    private static String string(Map<String, Object> p, String key) {
        Object v = p.get(key);
        return v == null ? "" : v.toString();
    }

    private static void flatten(VirtualMachineSnapshotTree[] trees, List<VmInfo.SnapshotInfo> out) {
        for (VirtualMachineSnapshotTree t : trees) {
            out.add(new VmInfo.SnapshotInfo(t.getSnapshot().get_value(), t.getName(),
                    t.getDescription() == null ? "" : t.getDescription(),
                    t.getCreateTime() == null ? java.time.Instant.EPOCH : t.getCreateTime().toInstant(),
                    t.isQuiesced()));
            if (t.getChildSnapshotList() != null) {
                flatten(t.getChildSnapshotList(), out);
            }
        }
    }

    private static List<VmInfo.Disk> disks(Object devices) {
        VirtualDevice[] all = devices instanceof ArrayOfVirtualDevice a ? a.getVirtualDevice()
                : devices instanceof VirtualDevice[] arr ? arr : null;
        List<VmInfo.Disk> out = new ArrayList<>();
        if (all == null) {
            return out;
        }
        for (VirtualDevice d : all) {
            if (!(d instanceof VirtualDisk disk)) {
                continue;
            }
            String label = d.getDeviceInfo() == null ? "disk " + d.getKey() : d.getDeviceInfo().getLabel();
            long capacity = disk.getCapacityInBytes() != null ? disk.getCapacityInBytes() : disk.getCapacityInKB() * 1024;
            VirtualDeviceBackingInfo b = d.getBacking();
            switch (b) {
                case VirtualDiskFlatVer2BackingInfo f -> out.add(new VmInfo.Disk(d.getKey(), label, f.getFileName(), capacity,
                        f.getDiskMode(), false, nullToEmpty(f.getUuid()), Optional.ofNullable(f.getChangeId())));
                case VirtualDiskSparseVer2BackingInfo s -> out.add(new VmInfo.Disk(d.getKey(), label, s.getFileName(), capacity,
                        s.getDiskMode(), false, nullToEmpty(s.getUuid()), Optional.ofNullable(s.getChangeId())));
                case VirtualDiskRawDiskMappingVer1BackingInfo r -> out.add(new VmInfo.Disk(d.getKey(), label, r.getFileName(),
                        capacity, nullToEmpty(r.getDiskMode()), "physicalMode".equals(r.getCompatibilityMode()),
                        nullToEmpty(r.getUuid()), Optional.ofNullable(r.getChangeId())));
                case null, default -> out.add(new VmInfo.Disk(d.getKey(), label, "", capacity, "unsupported backing "
                        + (b == null ? "none" : b.getClass().getSimpleName()), false, "", Optional.empty()));
            }
        }
        return out;
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }

    /** A vSphere answer the proxy cannot use, as a RemoteException so it travels like a fault. */
    static final class VsphereRemote extends RemoteException {
        VsphereRemote(String message) {
            super(message);
        }
    }
}
