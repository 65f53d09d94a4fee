package io.blockmover.mover.pipeline;

/** Turns an exception into the one line a user (or a scheduler, in a gRPC status) sees. */
public final class UserMessages {
    private UserMessages() {}

    public static String describe(Throwable t) {
        Throwable root = t;
        StringBuilder sb = new StringBuilder();
        // Walk the cause chain: outer messages give context, the innermost the reason.
        while (root != null) {
            String m = root.getMessage();
            if (m != null && !m.isBlank() && (sb.isEmpty() || !sb.toString().contains(m))) {
                if (!sb.isEmpty()) {
                    sb.append(": ");
                }
                sb.append(m);
            }
            if (root.getCause() == root) {
                break;
            }
            root = root.getCause();
        }
        return sb.isEmpty() ? t.getClass().getSimpleName() : sb.toString();
    }
}
