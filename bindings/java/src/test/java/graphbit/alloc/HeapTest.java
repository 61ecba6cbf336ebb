package graphbit.alloc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class HeapTest {
    @Test
    void theLimitRefusesChangesNothingAndTheHeapStaysUsable() {
        try (Heap heap = new Heap(64 * 1024)) {
            List<Block> kept = new ArrayList<>();
            OutOfMemoryError refused = null;
            while (kept.size() < 1000) {
                try {
                    kept.add(heap.allocate(4000));
                } catch (OutOfMemoryError e) {
                    refused = e;
                    break;
                }
            }
            assertTrue(refused != null && refused.getMessage().contains("ENOMEM"), String.valueOf(refused));
            HeapStats at = heap.stats();
            long usable = kept.stream().mapToLong(Block::usableSize).sum();
            assertEquals(64 * 1024, at.limitBytes());
            assertTrue(at.allocatedBytes() <= 64 * 1024, at.toString());
            assertEquals(usable, at.allocatedBytes());
            assertEquals(kept.size(), at.blocks());
            assertEquals(1, at.refused());
            assertThrows(OutOfMemoryError.class, () -> heap.allocateZeroed(TestSupport.MIB));
            assertThrows(OutOfMemoryError.class, () -> heap.allocateAligned(TestSupport.MIB, 4096, false));
            assertEquals(at.allocatedBytes(), heap.stats().allocatedBytes(), "a refusal changes nothing");
            assertEquals(3, heap.stats().refused());
            kept.remove(kept.size() - 1).close();
            Block again = heap.allocate(4000);
            again.write(0, new byte[] {1, 2, 3});
            assertEquals(3, again.toByteArray()[2]);
        }
    }

    @Test
    void closeClosesEveryBlockOfTheHeapAndASecondCloseDoesNothing() throws InterruptedException {
        long leakedBefore = Block.leakedBlocks();
        Heap heap = new Heap();
        Block plain = heap.allocate(100);
        Block zero = heap.allocateZeroed(5000);
        Block aligned = heap.allocateAligned(1000, 4096, true);
        assertSame(heap, plain.heap());
        assertEquals(0, aligned.address() % 4096);
        for (byte b : zero.toByteArray()) {
            assertEquals(0, b);
        }
        for (byte b : aligned.toByteArray()) {
            assertEquals(0, b);
        }
        Block early = heap.allocate(64);
        early.close(); // on its own, before the heap
        assertTrue(early.isReleased());
        assertEquals(3, heap.stats().blocks());
        heap.allocate(32); // dropped without close: the heap frees it, no leak is counted
        heap.close();
        assertTrue(heap.isClosed());
        assertTrue(heap.isReleased());
        byte[] one = new byte[1];
        for (Block block : new Block[] {plain, zero, aligned}) {
            assertTrue(block.isClosed());
            for (Runnable use : new Runnable[] {
                    block::toByteArray, () -> block.write(0, one), () -> block.read(0, one, 0, 1),
                    block::buffer, () -> block.buffer(0, 1), block::address, block::usableSize}) {
                IllegalStateException e = assertThrows(IllegalStateException.class, use::run);
                assertTrue(e.getMessage().contains("closed Heap"), e.getMessage());
            }
            block.close(); // does nothing
        }
        heap.close(); // does nothing
        assertThrows(IllegalStateException.class, () -> heap.allocate(8));
        assertThrows(IllegalStateException.class, heap::stats);
        plain = null;
        zero = null;
        aligned = null;
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertEquals(leakedBefore, Block.leakedBlocks(), "blocks of a closed heap are no leak");
    }

    @Test
    void aBufferTakenBeforeCloseKeepsTheHeapUntilCollected() throws InterruptedException {
        Heap heap = new Heap();
        Block block = heap.allocate(4096);
        ByteBuffer view = block.buffer();
        view.put(0, (byte) 9);
        heap.close();
        assertTrue(heap.isClosed());
        assertFalse(heap.isReleased(), "gb_heap_destroy waits for the buffer");
        assertEquals(9, view.get(0), "the buffer is still valid memory");
        assertThrows(IllegalStateException.class, block::buffer);
        view = null;
        assertTrue(TestSupport.collectUntil(heap::isReleased), "gb_heap_destroy after the buffer went");
        block.close(); // does nothing
    }

    @Test
    void badLimitsSizesAndAlignmentsAreJavasOwnErrors() {
        assertThrows(IllegalArgumentException.class, () -> new Heap(-1));
        assertThrows(IllegalArgumentException.class, () -> new Heap(Long.MIN_VALUE));
        try (Heap heap = new Heap(Long.MAX_VALUE)) {
            assertEquals(Long.MAX_VALUE, heap.stats().limitBytes());
            assertThrows(IllegalArgumentException.class, () -> heap.allocate(-1));
            assertThrows(IllegalArgumentException.class, () -> heap.allocateZeroed(-1));
            assertThrows(IllegalArgumentException.class, () -> heap.allocateAligned(8, 0, false));
            assertThrows(IllegalArgumentException.class, () -> heap.allocateAligned(8, 3, false));
            assertThrows(OutOfMemoryError.class, () -> heap.allocate(Long.MAX_VALUE));
            assertEquals(0, heap.stats().blocks());
        }
    }

    @Test
    void threadsAllocateCopyAndCloseWhileTheHeapIsClosed() throws InterruptedException {
        for (int round = 0; round < 10; round++) {
            Heap heap = new Heap();
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                final int id = t;
                Thread thread = new Thread(() -> {
                    try {
                        start.await();
                        List<Block> held = new ArrayList<>();
                        for (int i = 0; i < 300; i++) {
                            try {
                                Block b = heap.allocate(16 + (id * 131 + i * 17) % 4000);
                                held.add(b);
                                byte[] want = {(byte) id, (byte) i};
                                b.write(0, want);
                                byte[] got = new byte[2];
                                b.read(0, got, 0, 2);
                                assertArrayEquals(want, got);
                                if (i % 3 == 0) {
                                    held.remove(0).close();
                                }
                            } catch (IllegalStateException closed) {
                                assertTrue(closed.getMessage().contains("closed Heap"), closed.getMessage());
                            }
                        }
                        held.forEach(Block::close);
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                });
                thread.start();
                threads.add(thread);
            }
            start.countDown();
            Thread.sleep(round % 4);
            heap.close();
            for (Thread thread : threads) {
                thread.join();
            }
            assertTrue(failures.isEmpty(), failures.toString());
            assertTrue(heap.isReleased());
        }
    }
}
