package graphbit.alloc;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A {@code gb_heap} (docs/heaps.md): {@link Block}s allocated in it, capped
 * at a limit of usable bytes, all freed at once by {@link #close()}: use it
 * with try-with-resources.
 *
 * <pre>{@code
 * try (Heap heap = new Heap(1 << 20)) {        // usable bytes; 0: no limit
 *     Block block = heap.allocate(4096);       // OutOfMemoryError past the limit
 *     block.write(0, data);
 * }                                            // every block of the heap is freed
 * }</pre>
 *
 * <p>Past the limit an allocation throws {@link OutOfMemoryError}; nothing
 * changes and the heap stays usable. A Block of the heap may be closed on its
 * own. After {@code close()} every Block of the heap is closed: its methods
 * throw {@link IllegalStateException}, its {@code close()} does nothing, and
 * its address never reaches native code again (its cleaner does not free it
 * either). As for {@link Block#close()}, a {@code ByteBuffer} taken from a
 * block earlier stays valid memory: {@code gb_heap_destroy} runs once no
 * buffer of the heap's blocks is reachable ({@link #isReleased()} tells). A
 * second {@code close()} does nothing; {@code allocate} and {@code stats}
 * then throw {@link IllegalStateException}.
 *
 * <p>A Heap and its Blocks may be used from any threads: {@code close()}
 * waits for the allocations and block copies in flight. A Heap collected
 * without {@code close()} (each Block holds its Heap) is closed then, with a
 * warning.
 */
public final class Heap implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final System.Logger LOG = System.getLogger("graphbit.alloc");
    private static final int STATS_SIZE = 8 + 5 * 8; // size_t size + five uint64_t

    /** Direct-mapped gb_heap_* functions (size_t as long), registered on first use. */
    static final class Natives {
        private Natives() {}

        static {
            Native.register(Natives.class, NativeLibrary.getInstance(GraphbitAlloc.libraryPath()));
        }

        static native Pointer gb_heap_new(long limitBytes);
        static native Pointer gb_heap_alloc(Pointer heap, long size);
        static native Pointer gb_heap_calloc(Pointer heap, long count, long size);
        static native Pointer gb_heap_aligned_alloc(Pointer heap, long alignment, long size);
        static native void gb_heap_destroy(Pointer heap);
        static native int gb_heap_stats(Pointer heap, Pointer out);
    }

    /** What the Blocks and the cleaner need: nothing that refers back to the Heap. */
    static final class Core {
        final Pointer handle;
        /** Write: close(); read: every call that passes one of the heap's addresses to C. */
        private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        private volatile boolean destroyed;
        private boolean released; // gb_heap_destroy ran; guarded by this
        private long views; // ByteBuffers of its blocks not yet collected; guarded by this
        /** The live Blocks, to drop their cached buffers at close(). */
        private final Map<Block, Boolean> blocks = Collections.synchronizedMap(new WeakHashMap<>());

        Core(Pointer handle) {
            this.handle = handle;
        }

        boolean isDestroyed() {
            return destroyed;
        }

        /** Read-locks the heap; false (and unlocked) when it was destroyed. */
        boolean enter() {
            lock.readLock().lock();
            if (destroyed) {
                lock.readLock().unlock();
                return false;
            }
            return true;
        }

        void exit() {
            lock.readLock().unlock();
        }

        /** Runs a block's free unless the heap was destroyed. */
        void free(Runnable free) {
            if (enter()) {
                try {
                    free.run();
                } finally {
                    exit();
                }
            }
        }

        /** A block's ByteBuffer was made; the caller holds the read lock. */
        synchronized void viewTaken() {
            views += 1;
        }

        void viewCollected() {
            synchronized (this) {
                views -= 1;
            }
            finish();
        }

        /** gb_heap_destroy, once destroyed with no buffer of its blocks reachable. */
        private void finish() {
            synchronized (this) {
                if (!destroyed || released || views > 0) {
                    return;
                }
                released = true;
            }
            Natives.gb_heap_destroy(handle);
        }

        synchronized boolean isReleased() {
            return released;
        }

        void destroy() {
            lock.writeLock().lock();
            try {
                if (destroyed) {
                    return;
                }
                destroyed = true;
            } finally {
                lock.writeLock().unlock();
            }
            List<Block> live;
            synchronized (blocks) {
                live = new ArrayList<>(blocks.keySet());
                blocks.clear();
            }
            for (Block block : live) {
                block.heapDestroyed();
            }
            finish();
        }

        void collected() {
            if (destroyed) {
                return;
            }
            LOG.log(System.Logger.Level.WARNING,
                    "graphbit-alloc: a Heap was garbage-collected without close(); use try-with-resources");
            destroy();
        }
    }

    private final Core core;
    private final Cleaner.Cleanable cleanable;

    /**
     * {@code gb_heap_new(limit)}: a heap whose live blocks may take at most
     * {@code limitBytes} usable bytes, 0 for no limit.
     *
     * @throws IllegalArgumentException for a negative limit
     * @throws OutOfMemoryError when the library cannot make another heap
     */
    public Heap(long limitBytes) {
        if (limitBytes < 0) {
            throw new IllegalArgumentException("limit must be >= 0, not " + limitBytes);
        }
        GraphbitAlloc.ensureLoaded();
        Pointer handle = GraphbitAlloc.check(Natives.gb_heap_new(limitBytes), "gb_heap_new(" + limitBytes + ")");
        this.core = new Core(handle);
        Core c = core;
        this.cleanable = CLEANER.register(this, c::collected);
    }

    /** A heap with no limit. */
    public Heap() {
        this(0);
    }

    Core core() {
        return core;
    }

    private static void checkSize(long size) {
        if (size < 0) {
            throw new IllegalArgumentException("size must be >= 0, not " + size);
        }
    }

    private interface Allocation {
        Pointer run(Pointer heap);
    }

    private Block allocate(long size, long alignment, Allocation allocation, String what) {
        if (!core.enter()) {
            throw new IllegalStateException("graphbit-alloc: " + what + " on a closed Heap");
        }
        try {
            Pointer p = GraphbitAlloc.check(allocation.run(core.handle), what);
            Block block = Block.inHeap(Pointer.nativeValue(p), size, alignment, this);
            core.blocks.put(block, Boolean.TRUE);
            return block;
        } finally {
            core.exit();
        }
    }

    /** {@code gb_heap_alloc(heap, size)}: uninitialised bytes. */
    public Block allocate(long size) {
        checkSize(size);
        return allocate(size, 0, h -> Natives.gb_heap_alloc(h, size), "gb_heap_alloc(" + size + ")");
    }

    /** {@code gb_heap_calloc(heap, 1, size)}: every byte zero. */
    public Block allocateZeroed(long size) {
        checkSize(size);
        return allocate(size, 0, h -> Natives.gb_heap_calloc(h, 1, size), "gb_heap_calloc(1, " + size + ")");
    }

    /** {@code gb_heap_aligned_alloc}: the address is a multiple of {@code alignment}, a power of two. */
    public Block allocateAligned(long size, long alignment, boolean zeroed) {
        checkSize(size);
        if (alignment <= 0) {
            throw new IllegalArgumentException("gb_heap_aligned_alloc(" + alignment + ", " + size
                    + "): invalid argument (alignment must be a power of two)");
        }
        return allocate(size, alignment, h -> {
            Pointer p = Natives.gb_heap_aligned_alloc(h, alignment, size);
            if (p != null && zeroed) {
                p.setMemory(0, size, (byte) 0);
            }
            return p;
        }, "gb_heap_aligned_alloc(" + alignment + ", " + size + ")");
    }

    /** {@code gb_heap_stats}: usable bytes (what the limit counts) and blocks. */
    public HeapStats stats() {
        if (!core.enter()) {
            throw new IllegalStateException("graphbit-alloc: stats() on a closed Heap");
        }
        try (Memory raw = new Memory(STATS_SIZE)) {
            raw.clear();
            raw.setLong(0, STATS_SIZE);
            int code = Natives.gb_heap_stats(core.handle, raw);
            if (code != 0) {
                throw new IllegalStateException("gb_heap_stats failed (errno " + code + ")");
            }
            return new HeapStats(raw.getLong(8), raw.getLong(16), raw.getLong(24), raw.getLong(32),
                    raw.getLong(40));
        } finally {
            core.exit();
        }
    }

    /** Whether close() was called. */
    public boolean isClosed() {
        return core.isDestroyed();
    }

    /** Whether gb_heap_destroy ran (closed, and no buffer of its blocks reachable). */
    public boolean isReleased() {
        return core.isReleased();
    }

    /**
     * {@code gb_heap_destroy}: frees every Block of the heap at once (see the
     * class comment); a second call does nothing.
     */
    @Override
    public void close() {
        core.destroy();
        cleanable.clean(); // runs collected(), which finds the heap destroyed
    }

    @Override
    public String toString() {
        return "Heap[" + (core.isDestroyed() ? "closed" : "open") + "]";
    }
}
