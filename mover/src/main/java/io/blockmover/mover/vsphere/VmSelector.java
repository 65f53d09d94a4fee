package io.blockmover.mover.vsphere;

import com.vmware.vim25.ManagedObjectNotFound;
import com.vmware.vim25.mo.ManagedEntity;

import java.rmi.RemoteException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Which VM a job is about, in VCB's lookup modes: {@code name:}, {@code path:} (inventory path),
 * {@code ip:}, {@code dns:}, {@code uuid:} (BIOS), {@code instance-uuid:} or {@code moref:}.
 * Resolving it finds exactly one VM or fails with one line naming what matched.
 */
public record VmSelector(Kind kind, String value) {
    public enum Kind {
        NAME("name"), PATH("path"), IP("ip"), DNS("dns"), UUID("uuid"), INSTANCE_UUID("instance-uuid"), MOREF("moref");

        private final String prefix;

        Kind(String prefix) {
            this.prefix = prefix;
        }

        public String prefix() {
            return prefix;
        }
    }

    public VmSelector {
        if (value.isBlank()) {
            throw new IllegalArgumentException("empty VM selector " + kind.prefix() + ":");
        }
    }

    /** Parses {@code KIND:VALUE}. */
    public static VmSelector parse(String text) {
        int colon = text.indexOf(':');
        if (colon > 0) {
            String prefix = text.substring(0, colon).toLowerCase(Locale.ROOT);
            for (Kind k : Kind.values()) {
                if (k.prefix.equals(prefix)) {
                    return new VmSelector(k, text.substring(colon + 1));
                }
            }
        }
        throw new IllegalArgumentException("bad VM selector '" + text + "': want one of "
                + Arrays.stream(Kind.values()).map(k -> k.prefix + ":").toList() + " followed by a value");
    }

    /** No VM matches the selector: a caller may answer "not found" rather than "ambiguous". */
    public static final class NoMatch extends VsphereException {
        NoMatch(String message) {
            super(message);
        }
    }

    /** The moref of the one VM this selects; a one-line error for none or several. */
    public String resolve(VcenterConnection connection, VmInventory inventory) throws RemoteException, VsphereException {
        List<String> morefs = switch (kind) {
            case NAME -> inventory.names().stream().filter(v -> v.name().equals(value)).map(VmInfo::moref).toList();
            case MOREF -> {
                try {
                    inventory.get(value);
                    yield List.of(value);
                } catch (ManagedObjectNotFound e) {
                    yield List.of();
                }
            }
            case PATH -> connection.call(si -> {
                ManagedEntity e = si.getSearchIndex().findByInventoryPath(value);
                return e != null && e.getMOR().getType().equals("VirtualMachine") ? List.of(e.getMOR().get_value()) : List.of();
            });
            case IP -> connection.call(si -> morefs(si.getSearchIndex().findAllByIp(null, value, true)));
            case DNS -> connection.call(si -> morefs(si.getSearchIndex().findAllByDnsName(null, value, true)));
            case UUID -> connection.call(si -> morefs(si.getSearchIndex().findAllByUuid(null, value, true, false)));
            case INSTANCE_UUID -> connection.call(si -> morefs(si.getSearchIndex().findAllByUuid(null, value, true, true)));
        };
        if (morefs.isEmpty()) {
            throw new NoMatch("no VM matches " + this);
        }
        if (morefs.size() > 1) {
            throw new VsphereException(morefs.size() + " VMs match " + this + " (" + String.join(", ", morefs)
                    + "); select one by moref: or instance-uuid:");
        }
        return morefs.getFirst();
    }

    private static List<String> morefs(ManagedEntity[] found) {
        List<String> out = new ArrayList<>();
        if (found != null) {
            for (ManagedEntity e : found) {
                out.add(e.getMOR().get_value());
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return kind.prefix() + ":" + value;
    }
}
