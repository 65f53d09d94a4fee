package io.blockmover.mover.api;

import io.blockmover.index.format.RepositoryException;
import io.blockmover.mover.pipeline.IncrementalImpossibleException;
import io.blockmover.mover.pipeline.UserMessages;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;

import java.io.FileNotFoundException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The gRPC status a scheduler can act on, for whatever ended a job or a call: retry later
 * (UNAVAILABLE, RESOURCE_EXHAUSTED), fix the request (INVALID_ARGUMENT, NOT_FOUND), fix the
 * repository or run a full (FAILED_PRECONDITION). The description is the one line a CLI user would see.
 */
final class Statuses {
    private Statuses() {}

    static Status of(Throwable t) {
        Throwable cause = t;
        while ((cause instanceof ExecutionException || cause instanceof CompletionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof StatusRuntimeException s) {
            return s.getStatus();
        }
        if (cause instanceof StatusException s) {
            return s.getStatus();
        }
        Status status = switch (cause) {
            case CancellationException c -> Status.CANCELLED;
            case IllegalArgumentException i -> Status.INVALID_ARGUMENT;
            case SecurityException d -> Status.PERMISSION_DENIED;
            case FileAlreadyExistsException f -> Status.ALREADY_EXISTS;
            case NoSuchFileException n -> Status.NOT_FOUND;
            case FileNotFoundException n -> Status.NOT_FOUND;
            case NoSuchElementException n -> Status.NOT_FOUND;
            case IncrementalImpossibleException i -> Status.FAILED_PRECONDITION;
            case java.io.IOException io -> Status.UNAVAILABLE;
            case RepositoryException r -> Status.FAILED_PRECONDITION;
            case IllegalStateException s -> Status.FAILED_PRECONDITION;
            default -> Status.INTERNAL;
        };
        return status.withDescription(UserMessages.describe(t));
    }
}
