package io.blockmover.mover.vsphere;

import com.vmware.vim25.DynamicProperty;
import com.vmware.vim25.LocalizedMethodFault;
import com.vmware.vim25.ManagedObjectReference;
import com.vmware.vim25.MethodFault;
import com.vmware.vim25.ObjectContent;
import com.vmware.vim25.ObjectSpec;
import com.vmware.vim25.PropertyFilterSpec;
import com.vmware.vim25.PropertySpec;
import com.vmware.vim25.TaskInProgress;
import com.vmware.vim25.TaskInfo;
import com.vmware.vim25.TaskInfoState;
import com.vmware.vim25.mo.Task;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.rmi.RemoteException;
import java.time.Duration;
import java.util.Optional;

/**
 * Runs vSphere tasks to their end: starts one (retrying while the VM is busy), then polls its
 * {@code info} with a short, growing interval: a warm proxy's snapshot takes milliseconds on a
 * quiet host, and yavijava's own waitForTask sleeps 500 ms between polls.
 */
final class VsphereTasks {
    private static final Logger log = LoggerFactory.getLogger(VsphereTasks.class);
    private static final long FIRST_POLL_MS = 2;
    private static final long MAX_POLL_MS = 250;

    /** Starts a task; the vSphere call that answers it. */
    @FunctionalInterface
    interface Starter {
        Task start(com.vmware.vim25.mo.ServiceInstance si) throws RemoteException;
    }

    private final VcenterConnection connection;
    private final BusyRetry retry;

    VsphereTasks(VcenterConnection connection, BusyRetry retry) {
        this.connection = connection;
        this.retry = retry;
    }

    /**
     * Runs a task to success and returns its result; a failed task throws a VsphereException
     * naming {@code what} and the fault. TaskInProgress, at the call or as the task's error, is
     * retried per {@link BusyRetry}.
     */
    Optional<Object> run(String what, Starter starter) throws VsphereException, RemoteException, InterruptedException {
        for (int attempt = 0; ; attempt++) {
            try {
                Task task = connection.call(starter::start);
                TaskInfo info = await(task.getMOR());
                if (info.getState() == TaskInfoState.success) {
                    return Optional.ofNullable(info.getResult());
                }
                MethodFault fault = info.getError() == null ? null : info.getError().getFault();
                if (fault instanceof TaskInProgress busy) {
                    throw busy;
                }
                throw new VsphereException(what + " failed: " + describe(info.getError()));
            } catch (TaskInProgress busy) {
                if (attempt >= retry.maxRetries()) {
                    throw new VsphereException(what + " failed: the VM stayed busy with another task through "
                            + retry.maxRetries() + " retries " + retry.retryWait().toSeconds() + " s apart");
                }
                log.info("{}: VM busy with another task; retry {} of {} in {}", what, attempt + 1, retry.maxRetries(),
                        retry.retryWait());
                Thread.sleep(retry.retryWait());
            }
        }
    }

    private TaskInfo await(ManagedObjectReference task) throws RemoteException, VsphereException, InterruptedException {
        long sleep = FIRST_POLL_MS;
        while (true) {
            TaskInfo info = info(task);
            if (info.getState() == TaskInfoState.success || info.getState() == TaskInfoState.error) {
                return info;
            }
            Thread.sleep(Duration.ofMillis(sleep));
            sleep = Math.min(MAX_POLL_MS, sleep * 2);
        }
    }

    private TaskInfo info(ManagedObjectReference task) throws RemoteException, VsphereException {
        return connection.call(si -> {
            ObjectSpec os = new ObjectSpec();
            os.setObj(task);
            os.setSkip(Boolean.FALSE);
            PropertySpec ps = new PropertySpec();
            ps.setType("Task");
            ps.setPathSet(new String[] {"info"});
            PropertyFilterSpec f = new PropertyFilterSpec();
            f.setObjectSet(new ObjectSpec[] {os});
            f.setPropSet(new PropertySpec[] {ps});
            java.util.List<ObjectContent> ocs = VmInventory.retrieve(si, f);
            if (!ocs.isEmpty() && ocs.getFirst().getPropSet() != null) {
                for (DynamicProperty p : ocs.getFirst().getPropSet()) {
                    if (p.getVal() instanceof TaskInfo info) {
                        return info;
                    }
                }
            }
            throw new VmInventory.VsphereRemote("task " + task.get_value() + " answered no info");
        });
    }

    static String describe(LocalizedMethodFault error) {
        if (error == null) {
            return "no reason given";
        }
        String type = error.getFault() == null ? "fault" : error.getFault().getClass().getSimpleName();
        return type + (error.getLocalizedMessage() == null ? "" : ": " + error.getLocalizedMessage());
    }
}
