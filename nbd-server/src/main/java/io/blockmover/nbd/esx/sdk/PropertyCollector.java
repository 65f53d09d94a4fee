package io.blockmover.nbd.esx.sdk;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * RetrieveProperties, RetrievePropertiesEx and ContinueRetrievePropertiesEx over the emulated
 * inventory. Object specs are walked with their traversal specs the way vCenter does it: a
 * TraversalSpec applies to objects of its type (or a subtype), follows the property at its path,
 * and continues with its select set; a SelectionSpec that only names a TraversalSpec refers to
 * the one of that name anywhere in the filter. Paged answers keep the rest under a token.
 */
final class PropertyCollector {
    private static final int DEFAULT_PAGE = 100;

    /** One object's answer: its reference and the properties asked for that are set. */
    record ObjectContent(Mor obj, List<Map.Entry<String, Value>> props) {}

    private record Traversal(String name, String type, String path, boolean skip, List<XmlNode> selectSet) {}

    private final Properties properties;
    private final Inventory inventory;
    private final Map<String, List<ObjectContent>> pending = new ConcurrentHashMap<>();

    PropertyCollector(Inventory inventory, Properties properties) {
        this.inventory = inventory;
        this.properties = properties;
    }

    /** Every object the filter specs select, with their properties, in traversal order. */
    List<ObjectContent> retrieve(List<XmlNode> specSet, Optional<Sessions.Session> session) throws SdkFault {
        List<ObjectContent> out = new ArrayList<>();
        for (XmlNode spec : specSet) {
            Map<String, Traversal> named = new HashMap<>();
            for (XmlNode os : spec.all("objectSet")) {
                collectNamed(os.all("selectSet"), named);
            }
            Set<Mor> selected = new LinkedHashSet<>();
            for (XmlNode os : spec.all("objectSet")) {
                Mor root = os.require("obj").mor();
                if (!inventory.exists(root)) {
                    throw SdkFault.notFound(root);
                }
                visit(root, os.bool("skip", false), os.all("selectSet"), named, selected, new HashSet<>());
            }
            List<XmlNode> propSpecs = spec.all("propSet");
            for (Mor obj : selected) {
                List<Map.Entry<String, Value>> props = new ArrayList<>();
                boolean matched = false;
                for (XmlNode ps : propSpecs) {
                    if (!Inventory.isA(obj.type(), ps.requireText("type"))) {
                        continue;
                    }
                    matched = true;
                    List<String> paths = ps.bool("all", false) ? Properties.all(obj.type())
                            : ps.all("pathSet").stream().map(XmlNode::text).toList();
                    for (String path : paths) {
                        Optional<Value> v = properties.get(obj, path, session);
                        v.ifPresent(value -> props.add(Map.entry(path, value)));
                    }
                }
                if (matched) {
                    out.add(new ObjectContent(obj, props));
                }
            }
        }
        return out;
    }

    /** The first page of an answer and the token of the rest, if there is a rest. */
    record Page(List<ObjectContent> objects, Optional<String> token) {}

    Page first(List<ObjectContent> all, long maxObjects) {
        return page(all, maxObjects > 0 ? (int) Math.min(maxObjects, Integer.MAX_VALUE) : DEFAULT_PAGE);
    }

    Page next(String token) throws SdkFault {
        List<ObjectContent> rest = pending.remove(token);
        if (rest == null) {
            throw SdkFault.invalidArgument("token");
        }
        return page(rest, DEFAULT_PAGE);
    }

    void cancel(String token) {
        pending.remove(token);
    }

    private Page page(List<ObjectContent> all, int size) {
        if (all.size() <= size) {
            return new Page(all, Optional.empty());
        }
        String token = UUID.randomUUID().toString();
        pending.put(token, List.copyOf(all.subList(size, all.size())));
        return new Page(List.copyOf(all.subList(0, size)), Optional.of(token));
    }

    private static void collectNamed(List<XmlNode> selectSet, Map<String, Traversal> named) throws SdkFault {
        for (XmlNode sel : selectSet) {
            Optional<Traversal> t = traversal(sel);
            if (t.isPresent() && !t.get().name().isEmpty() && !named.containsKey(t.get().name())) {
                named.put(t.get().name(), t.get());
                collectNamed(t.get().selectSet(), named);
            }
        }
    }

    /** A TraversalSpec (it has a type and a path), or empty for a SelectionSpec that only names one. */
    private static Optional<Traversal> traversal(XmlNode sel) throws SdkFault {
        if (sel.child("path").isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Traversal(sel.text("name").orElse(""), sel.requireText("type"), sel.requireText("path"),
                sel.bool("skip", false), sel.all("selectSet")));
    }

    private void visit(Mor obj, boolean skip, List<XmlNode> selectSet, Map<String, Traversal> named,
                       Set<Mor> selected, Set<String> walked) throws SdkFault {
        if (!skip) {
            selected.add(obj);
        }
        for (XmlNode sel : selectSet) {
            Optional<Traversal> inline = traversal(sel);
            Traversal t = inline.isPresent() ? inline.get() : named.get(sel.requireText("name"));
            if (t == null) {
                throw SdkFault.invalidArgument("selectSet");
            }
            if (!Inventory.isA(obj.type(), t.type())) {
                continue;
            }
            // A traversal followed once per object: specs that refer to each other in a loop end.
            if (!walked.add(obj + "/" + t.type() + "." + t.path())) {
                continue;
            }
            Optional<Value> v = properties.get(obj, t.path(), Optional.empty());
            if (v.isEmpty()) {
                continue;
            }
            for (Mor target : v.get().refs()) {
                visit(target, t.skip(), t.selectSet(), named, selected, walked);
            }
        }
    }
}
