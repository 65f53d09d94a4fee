package io.blockmover.nbd.esx.sdk;

/** A managed object reference: type ({@code VirtualMachine}) and value ({@code vm-11}). */
record Mor(String type, String value) {
    static final Mor SERVICE_INSTANCE = new Mor("ServiceInstance", "ServiceInstance");
    static final Mor ROOT_FOLDER = new Mor("Folder", "group-d1");
    static final Mor DATACENTER = new Mor("Datacenter", "datacenter-2");
    static final Mor VM_FOLDER = new Mor("Folder", "group-v3");
    static final Mor HOST_FOLDER = new Mor("Folder", "group-h4");
    static final Mor DATASTORE_FOLDER = new Mor("Folder", "group-s5");
    static final Mor NETWORK_FOLDER = new Mor("Folder", "group-n6");
    static final Mor PROPERTY_COLLECTOR = new Mor("PropertyCollector", "propertyCollector");
    static final Mor SEARCH_INDEX = new Mor("SearchIndex", "SearchIndex");
    static final Mor SESSION_MANAGER = new Mor("SessionManager", "SessionManager");
    static final Mor TASK_MANAGER = new Mor("TaskManager", "TaskManager");

    @Override
    public String toString() {
        return type + ":" + value;
    }
}
