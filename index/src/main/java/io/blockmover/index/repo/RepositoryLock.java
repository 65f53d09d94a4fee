package io.blockmover.index.repo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One process at a time writes a repository: an OS advisory lock on {@code lock}, which holds the
 * owner's pid so the refusal can name it. The OS drops the lock when the process dies, so a
 * SIGKILLed owner never leaves the repository locked.
 */
public final class RepositoryLock implements AutoCloseable {
    private final FileChannel ch;
    private final FileLock lock;

    private RepositoryLock(FileChannel ch, FileLock lock) {
        this.ch = ch;
        this.lock = lock;
    }

    public static RepositoryLock acquire(Path root) throws IOException {
        Path file = root.resolve("lock");
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            ch.close();
            throw new RepositoryInUseException(root, "this process (pid " + ProcessHandle.current().pid() + "), opened twice");
        }
        if (lock == null) {
            String holder = holder(ch);
            ch.close();
            throw new RepositoryInUseException(root, holder);
        }
        ch.truncate(0);
        ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
        return new RepositoryLock(ch, lock);
    }

    private static String holder(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(32);
        ch.read(b, 0);
        String pid = new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).trim();
        return pid.isEmpty() ? "another process" : "pid " + pid;
    }

    @Override
    public void close() throws IOException {
        lock.release();
        ch.close();
    }
}
