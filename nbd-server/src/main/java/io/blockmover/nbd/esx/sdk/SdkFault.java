package io.blockmover.nbd.esx.sdk;

import java.util.Optional;

/**
 * A vSphere fault as the API answers it: a SOAP fault whose detail carries the fault type
 * ({@code xsi:type}) and its fields, so a client maps it to its own typed exception.
 *
 * @param faultType vSphere's name, e.g. {@code InvalidLogin}, {@code ManagedObjectNotFound}
 * @param field     the one field the fault carries, if any: its element name and value
 */
final class SdkFault extends Exception {
    /** One data field of a fault, e.g. {@code obj} of ManagedObjectNotFound; a MOR when {@code morType} is set. */
    record Field(String name, String value, Optional<String> morType) {}

    private final String faultType;
    private final Optional<Field> field;
    private final boolean clientFault;

    private SdkFault(String faultType, String message, Optional<Field> field, boolean clientFault) {
        super(message);
        this.faultType = faultType;
        this.field = field;
        this.clientFault = clientFault;
    }

    String faultType() {
        return faultType;
    }

    Optional<Field> field() {
        return field;
    }

    /** {@code ClientFaultCode} for a request the server could not read, else {@code ServerFaultCode}. */
    String faultCode() {
        return clientFault ? "ClientFaultCode" : "ServerFaultCode";
    }

    static SdkFault invalidLogin() {
        return new SdkFault("InvalidLogin", "Cannot complete login due to an incorrect user name or password.",
                Optional.empty(), false);
    }

    static SdkFault notAuthenticated() {
        return new SdkFault("NotAuthenticated", "The session is not authenticated.", Optional.empty(), false);
    }

    static SdkFault notFound(Mor mor) {
        return new SdkFault("ManagedObjectNotFound", "The object '" + mor.type() + ":" + mor.value()
                + "' has already been deleted or has not been completely created",
                Optional.of(new Field("obj", mor.value(), Optional.of(mor.type()))), false);
    }

    static SdkFault invalidArgument(String property) {
        return new SdkFault("InvalidArgument", "A specified parameter was not correct: " + property,
                Optional.of(new Field("invalidProperty", property, Optional.empty())), false);
    }

    static SdkFault invalidProperty(String path) {
        return new SdkFault("InvalidProperty", "The property " + path + " is not known here",
                Optional.of(new Field("name", path, Optional.empty())), false);
    }

    static SdkFault fileFault(String file, String message) {
        return new SdkFault("FileFault", message, Optional.of(new Field("file", file, Optional.empty())), false);
    }

    static SdkFault taskInProgress(Mor task) {
        return new SdkFault("TaskInProgress", "The operation is not allowed in the current state: another task is in progress.",
                Optional.of(new Field("task", task.value(), Optional.of(task.type()))), false);
    }

    static SdkFault invalidState(String message) {
        return new SdkFault("InvalidState", message, Optional.empty(), false);
    }

    static SdkFault notSupported(String what) {
        return new SdkFault("NotSupported", what + " is not supported by this emulated host", Optional.empty(), false);
    }

    static SdkFault invalidRequest(String message) {
        return new SdkFault("InvalidRequest", message, Optional.empty(), true);
    }

    /** A task that failed on purpose (fault API) or for a reason without a better fault type. */
    static SdkFault systemError(String message) {
        return new SdkFault("SystemError", message, Optional.of(new Field("reason", message, Optional.empty())), false);
    }
}
