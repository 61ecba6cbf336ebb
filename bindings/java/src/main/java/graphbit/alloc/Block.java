package graphbit.alloc;

import com.sun.jna.Pointer;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A block of graphbit-alloc memory, given back by {@link #close()}: use it with
 * try-with-resources.
 *
 * <pre>{@code
 * try (Block block = Block.allocateZeroed(4096)) {
 *     block.buffer().put(0, (byte) 42);   // a ByteBuffer over the block: no copy
 * }
 * }</pre>
 *
 * <p>{@link #buffer()} is a direct {@link ByteBuffer} over the block itself;
 * {@link #read} and {@link #write} copy. After {@code close()} every method
 * throws {@link IllegalStateException}. Java 17 cannot revoke a direct
 * ByteBuffer, and one kept past {@code close()} would point at freed memory;
 * so that this never happens, a block whose buffer was taken goes back to
 * the allocator only once it is closed <em>and</em> the garbage collector
 * has found its buffers unreachable (slices and duplicates keep theirs
 * reachable); until then a kept buffer is still valid memory. A block whose
 * buffer was never taken is freed by {@code close()} at once
 * ({@link #isReleased()} tells). A Block collected without {@code close()}
 * is freed then, and counted by {@link #leakedBlocks()} with a warning.
 *
 * <p>{@link #read}, {@link #write} and {@code close()} may be called from
 * any threads: copies in flight finish before the block is closed.
 *
 * <p>A Block from {@link Heap#allocate} is in that heap ({@link #heap()}):
 * closing the Heap closes it too (see {@link Heap}).
 */
public final class Block implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final AtomicLong LEAKED = new AtomicLong();
    private static final System.Logger LOG = System.getLogger("graphbit.alloc");

    /** What the cleaners need: nothing that refers back to the Block or a buffer. */
    private static final class State {
        final long address;
        final long size;
        final long alignment; // 0: malloc's
        final Heap.Core heap; // the heap it is in (Heap.java), or null
        final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        boolean closed;
        boolean released;
        int views;

        State(long address, long size, long alignment, Heap.Core heap) {
            this.address = address;
            this.size = size;
            this.alignment = alignment;
            this.heap = heap;
        }

        /** Frees the block once closed with no buffer left; the caller holds the write lock. */
        void releaseIfDone() {
            if (!closed || views > 0 || released) {
                return;
            }
            released = true;
            if (heap != null) {
                heap.free(this::free); // not when the heap was destroyed: its memory went with it
            } else {
                free();
            }
        }

        private void free() {
            Pointer p = new Pointer(address);
            if (alignment != 0) {
                GraphbitAlloc.Gb.gb_free_aligned_sized(p, alignment, size);
            } else {
                GraphbitAlloc.Gb.gb_free_sized(p, size);
            }
        }

        void viewCollected() {
            lock.writeLock().lock();
            try {
                views -= 1;
                releaseIfDone();
            } finally {
                lock.writeLock().unlock();
            }
            if (heap != null) {
                heap.viewCollected();
            }
        }

        void blockCollected() {
            lock.writeLock().lock();
            try {
                if (closed || heap != null && heap.isDestroyed()) {
                    closed = true; // a destroyed heap took the memory: no leak
                    return;
                }
                closed = true;
                releaseIfDone();
            } finally {
                lock.writeLock().unlock();
            }
            LEAKED.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "graphbit-alloc: a Block of " + size
                    + " bytes was garbage-collected without close(); use try-with-resources");
        }

        void close() {
            lock.writeLock().lock();
            try {
                if (closed) {
                    return;
                }
                closed = true;
                releaseIfDone();
            } finally {
                lock.writeLock().unlock();
            }
        }
    }

    private final State state;
    private final Cleaner.Cleanable cleanable;
    private final Heap heap; // a Heap lives while its Blocks do; null for none
    private ByteBuffer view; // the whole block, once taken; guarded by state.lock

    private Block(long address, long size, long alignment, Heap heap) {
        this.heap = heap;
        this.state = new State(address, size, alignment, heap == null ? null : heap.core());
        State s = state;
        this.cleanable = CLEANER.register(this, s::blockCollected);
    }

    private Block(long address, long size, long alignment) {
        this(address, size, alignment, null);
    }

    /** A Block over a new block of {@code heap} (Heap.allocate*), which holds its core's read lock. */
    static Block inHeap(long address, long size, long alignment, Heap heap) {
        return new Block(address, size, alignment, heap);
    }

    /** The Heap the block is in, or null. */
    public Heap heap() {
        return heap;
    }

    /** Called by Heap.close(): the block is gone with its heap; drops the cached buffer. */
    void heapDestroyed() {
        state.lock.writeLock().lock();
        try {
            view = null;
            state.closed = true;
            state.released = state.views == 0;
        } finally {
            state.lock.writeLock().unlock();
        }
    }

    /** Read-locks the block's heap around a call with its address (so close() waits); checks it is live. */
    private void enterHeap(String what) {
        if (state.heap != null && !state.heap.enter()) {
            throw destroyedHeap(what);
        }
    }

    private void exitHeap() {
        if (state.heap != null) {
            state.heap.exit();
        }
    }

    private IllegalStateException destroyedHeap(String what) {
        return new IllegalStateException("graphbit-alloc: " + what + " on a Block (" + state.size
                + " bytes) of a closed Heap");
    }

    private static long checkSize(long size) {
        if (size < 0) {
            throw new IllegalArgumentException("size must be >= 0, not " + size);
        }
        return size;
    }

    /** {@code gb_alloc(size)}: uninitialised bytes. */
    public static Block allocate(long size) {
        checkSize(size);
        GraphbitAlloc.ensureLoaded();
        Pointer p = GraphbitAlloc.check(GraphbitAlloc.Gb.gb_alloc(size), "gb_alloc(" + size + ")");
        return new Block(Pointer.nativeValue(p), size, 0);
    }

    /** {@code gb_calloc(1, size)}: every byte zero. */
    public static Block allocateZeroed(long size) {
        checkSize(size);
        GraphbitAlloc.ensureLoaded();
        Pointer p = GraphbitAlloc.check(GraphbitAlloc.Gb.gb_calloc(1, size), "gb_calloc(1, " + size + ")");
        return new Block(Pointer.nativeValue(p), size, 0);
    }

    /** {@code gb_aligned_alloc}: the address is a multiple of {@code alignment}, a power of two. */
    public static Block allocateAligned(long size, long alignment, boolean zeroed) {
        checkSize(size);
        if (alignment <= 0) {
            throw new IllegalArgumentException("gb_aligned_alloc(" + alignment + ", " + size
                    + "): invalid argument (alignment must be a power of two)");
        }
        GraphbitAlloc.ensureLoaded();
        Pointer p = GraphbitAlloc.check(GraphbitAlloc.Gb.gb_aligned_alloc(alignment, size),
                "gb_aligned_alloc(" + alignment + ", " + size + ")");
        if (zeroed) {
            p.setMemory(0, size, (byte) 0);
        }
        return new Block(Pointer.nativeValue(p), size, alignment);
    }

    /** {@link #allocateAligned(long, long, boolean)}, not zeroed. */
    public static Block allocateAligned(long size, long alignment) {
        return allocateAligned(size, alignment, false);
    }

    private void ensureOpen(String what) {
        if (state.heap != null && state.heap.isDestroyed()) {
            throw destroyedHeap(what);
        }
        if (state.closed) {
            throw new IllegalStateException("graphbit-alloc: " + what + " on a closed Block ("
                    + state.size + " bytes)");
        }
    }

    /** The size asked for. */
    public long size() {
        return state.size;
    }

    /** The alignment asked for (0 for malloc's). */
    public long alignment() {
        return state.alignment;
    }

    /** Whether close() was called (or the block's Heap closed). */
    public boolean isClosed() {
        state.lock.readLock().lock();
        try {
            return state.closed || state.heap != null && state.heap.isDestroyed();
        } finally {
            state.lock.readLock().unlock();
        }
    }

    /** Whether the memory went back to the allocator (closed, and no buffer of it reachable). */
    public boolean isReleased() {
        state.lock.readLock().lock();
        try {
            return state.released;
        } finally {
            state.lock.readLock().unlock();
        }
    }

    /** The block's address, to pass to native code. */
    public long address() {
        state.lock.readLock().lock();
        try {
            ensureOpen("address()");
            return state.address;
        } finally {
            state.lock.readLock().unlock();
        }
    }

    /** How many bytes the block really has (at least {@link #size()}). */
    public long usableSize() {
        state.lock.readLock().lock();
        try {
            ensureOpen("usableSize()");
            enterHeap("usableSize()");
            try {
                return GraphbitAlloc.Gb.gb_usable_size(new Pointer(state.address));
            } finally {
                exitHeap();
            }
        } finally {
            state.lock.readLock().unlock();
        }
    }

    /**
     * A direct ByteBuffer over the whole block, in native byte order, without a
     * copy; each call returns a new duplicate (its own position and limit) of
     * one view.
     *
     * @throws UnsupportedOperationException for a block above Integer.MAX_VALUE
     *     bytes: use {@link #buffer(long, int)}
     */
    public ByteBuffer buffer() {
        if (state.size > Integer.MAX_VALUE) {
            throw new UnsupportedOperationException("graphbit-alloc: a Block of " + state.size
                    + " bytes does not fit in one ByteBuffer; use buffer(offset, length)");
        }
        state.lock.writeLock().lock();
        try {
            ensureOpen("buffer()");
            if (view == null) {
                view = newView(0, (int) state.size);
            }
            return view.duplicate().order(ByteOrder.nativeOrder());
        } finally {
            state.lock.writeLock().unlock();
        }
    }

    /** A direct ByteBuffer over {@code length} bytes from {@code offset}, without a copy. */
    public ByteBuffer buffer(long offset, int length) {
        checkRange(offset, length);
        state.lock.writeLock().lock();
        try {
            ensureOpen("buffer(offset, length)");
            return newView(offset, length);
        } finally {
            state.lock.writeLock().unlock();
        }
    }

    /** A new registered view; the caller holds the write lock. */
    private ByteBuffer newView(long offset, int length) {
        enterHeap("buffer()");
        try {
            if (state.heap != null) {
                state.heap.viewTaken(); // the heap's memory stays while the view is reachable
            }
        } finally {
            exitHeap();
        }
        ByteBuffer buffer = new Pointer(state.address).getByteBuffer(offset, length)
                .order(ByteOrder.nativeOrder());
        state.views += 1;
        State s = state;
        CLEANER.register(buffer, s::viewCollected);
        return buffer;
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset > state.size - length) {
            throw new IndexOutOfBoundsException("bytes " + offset + ".." + (offset + length)
                    + " are outside the block (size " + state.size + ")");
        }
    }

    /** Copies {@code length} bytes from {@code offset} of the block into {@code dst} at {@code at}. */
    public void read(long offset, byte[] dst, int at, int length) {
        Objects.checkFromIndexSize(at, length, dst.length);
        checkRange(offset, length);
        state.lock.readLock().lock();
        try {
            ensureOpen("read()");
            enterHeap("read()");
            try {
                new Pointer(state.address).read(offset, dst, at, length);
            } finally {
                exitHeap();
            }
        } finally {
            state.lock.readLock().unlock();
        }
    }

    /** Copies {@code length} bytes of {@code src} from {@code at} into the block at {@code offset}. */
    public void write(long offset, byte[] src, int at, int length) {
        Objects.checkFromIndexSize(at, length, src.length);
        checkRange(offset, length);
        state.lock.readLock().lock();
        try {
            ensureOpen("write()");
            enterHeap("write()");
            try {
                new Pointer(state.address).write(offset, src, at, length);
            } finally {
                exitHeap();
            }
        } finally {
            state.lock.readLock().unlock();
        }
    }

    /** {@link #write(long, byte[], int, int)} of all of {@code src}. */
    public void write(long offset, byte[] src) {
        write(offset, src, 0, src.length);
    }

    /** A copy of the whole block. */
    public byte[] toByteArray() {
        byte[] out = new byte[Math.toIntExact(state.size)];
        read(0, out, 0, out.length);
        return out;
    }

    /**
     * Gives the block back (sized); a second call does nothing. Afterwards every
     * method throws IllegalStateException; a buffer taken earlier keeps the
     * memory until it is garbage-collected (see the class comment).
     */
    @Override
    public void close() {
        state.lock.writeLock().lock();
        try {
            view = null;
        } finally {
            state.lock.writeLock().unlock();
        }
        state.close();
        cleanable.clean(); // runs blockCollected, which finds the block closed
    }

    /** How many Blocks were garbage-collected without close() in this JVM. */
    public static long leakedBlocks() {
        return LEAKED.get();
    }

    @Override
    public String toString() {
        return "Block[size=" + state.size + (state.alignment != 0 ? ", alignment=" + state.alignment : "")
                + (state.closed ? ", closed" : "") + "]";
    }
}
