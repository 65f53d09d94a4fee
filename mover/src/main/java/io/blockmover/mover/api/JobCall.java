package io.blockmover.mover.api;

import io.blockmover.index.format.RepositoryException;
import io.blockmover.mover.api.v1.Progress;
import io.blockmover.mover.pipeline.Cancellation;
import io.blockmover.mover.pipeline.IncrementalImpossibleException;
import io.blockmover.mover.pipeline.TransferCounters;
import io.blockmover.mover.pipeline.UserMessages;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

import java.io.FileNotFoundException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;

/**
 * One running call of the proxy: the job's cancellation, tied to the client cancelling the call
 * (or its deadline passing); the disks whose progress is streamed; and the call's end, as a
 * result or as a status whose description is the one line a CLI user would see. A stream
 * observer is not thread-safe, and progress ticks come from another thread than the result: every
 * message goes out under the call's lock.
 */
final class JobCall<T> {
    private final StreamObserver<T> observer;
    private final ServerCallStreamObserver<T> serverSide;
    private final Function<Progress, T> progressEvent;
    private final Cancellation cancellation = new Cancellation();
    private final Map<String, TransferCounters> disks = new ConcurrentHashMap<>();
    private boolean done;

    /** A call that answers once, without progress. */
    JobCall(StreamObserver<T> observer) {
        this(observer, null);
    }

    /** A call that streams progress, wrapped by {@code progressEvent}, before its result. */
    JobCall(StreamObserver<T> observer, Function<Progress, T> progressEvent) {
        this.observer = observer;
        this.progressEvent = progressEvent;
        this.serverSide = observer instanceof ServerCallStreamObserver<T> server ? server : null;
        if (serverSide != null) {
            serverSide.setOnCancelHandler(() -> cancellation.cancel("the client cancelled the call"));
        }
    }

    Cancellation cancellation() {
        return cancellation;
    }

    /** Streams this disk's progress from now on. */
    void track(String disk, TransferCounters counters) {
        disks.put(disk, counters);
    }

    synchronized void sendProgress() {
        if (done || progressEvent == null || clientGone()) {
            return;
        }
        for (Map.Entry<String, TransferCounters> e : List.copyOf(disks.entrySet())) {
            TransferCounters.Snapshot s = e.getValue().snapshot();
            observer.onNext(progressEvent.apply(Progress.newBuilder().setDisk(e.getKey()).setDoneBytes(s.done())
                    .setTotalBytes(s.total()).setSeconds(s.seconds()).build()));
        }
    }

    synchronized void finish(T result) {
        if (!done && !clientGone()) {
            done = true;
            observer.onNext(result);
            observer.onCompleted();
        }
    }

    synchronized void fail(Throwable t) {
        if (!done && !clientGone()) {
            done = true;
            observer.onError(statusOf(t).asRuntimeException());
        }
    }

    /** A cancelled call (by the client, its deadline or the server's shutdown) takes no more messages. */
    private boolean clientGone() {
        return serverSide != null && serverSide.isCancelled();
    }

    /** The gRPC status a scheduler can act on: retry (UNAVAILABLE, ABORTED), fix the request, or give up. */
    static Status statusOf(Throwable t) {
        String message = UserMessages.describe(t);
        Throwable cause = t;
        while ((cause instanceof ExecutionException || cause instanceof CompletionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        Status status = switch (cause) {
            case CancellationException c -> Status.CANCELLED;
            case BusyException b -> Status.ABORTED;
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
        return status.withDescription(message);
    }
}
