package graphbit.alloc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Native;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class BlockTest {
    @Test
    void allocateWriteReadClose() {
        Block block = Block.allocate(1000);
        assertEquals(1000, block.size());
        assertTrue(block.usableSize() >= 1000);
        byte[] data = new byte[1000];
        Arrays.fill(data, (byte) 0x5a);
        block.write(0, data);
        assertArrayEquals(data, block.toByteArray());
        block.write(10, "graphbit".getBytes(StandardCharsets.US_ASCII));
        byte[] back = new byte[8];
        block.read(10, back, 0, 8);
        assertEquals("graphbit", new String(back, StandardCharsets.US_ASCII));
        assertThrows(IndexOutOfBoundsException.class, () -> block.write(999, new byte[2]));
        assertThrows(IndexOutOfBoundsException.class, () -> block.read(-1, back, 0, 1));
        block.close();
        assertTrue(block.isClosed());
        assertTrue(block.isReleased(), "a block never viewed goes back at close()");
        block.close(); // a second close does nothing
        for (Runnable use : new Runnable[] {
                block::toByteArray, () -> block.write(0, data), () -> block.read(0, back, 0, 1),
                block::buffer, () -> block.buffer(0, 1), block::address, block::usableSize}) {
            IllegalStateException e = assertThrows(IllegalStateException.class, use::run);
            assertTrue(e.getMessage().contains("closed Block"), e.getMessage());
        }
    }

    @Test
    void tryWithResourcesCloses() {
        Block seen;
        try (Block block = Block.allocate(64)) {
            seen = block;
            block.write(0, new byte[] {1, 2, 3});
        }
        assertTrue(seen.isClosed() && seen.isReleased());
        try (Block empty = Block.allocate(0)) {
            assertEquals(0, empty.buffer().capacity());
            assertEquals(0, empty.toByteArray().length);
        }
    }

    @Test
    void bufferIsAViewInNativeOrder() {
        try (Block block = Block.allocate(64)) {
            ByteBuffer a = block.buffer();
            ByteBuffer b = block.buffer();
            assertTrue(a.isDirect());
            assertEquals(ByteOrder.nativeOrder(), a.order());
            assertEquals(64, a.capacity());
            a.putLong(0, 0x0102030405060708L);
            assertEquals(0x0102030405060708L, b.getLong(0), "one memory under both");
            a.position(10);
            assertEquals(0, b.position(), "each call its own position");
            assertEquals(block.address(), Pointer(a));
            byte[] copy = new byte[8];
            block.read(0, copy, 0, 8);
            assertEquals(ByteBuffer.wrap(copy).order(ByteOrder.nativeOrder()).getLong(), 0x0102030405060708L);
            ByteBuffer part = block.buffer(8, 16);
            part.put(0, (byte) 99);
            assertEquals(99, a.get(8));
        }
    }

    private static long Pointer(ByteBuffer buffer) {
        return com.sun.jna.Pointer.nativeValue(Native.getDirectBufferPointer(buffer));
    }

    @Test
    void zeroedIsZero() {
        byte[] zeros = new byte[8192];
        for (int i = 0; i < 20; i++) {
            try (Block dirty = Block.allocate(8192)) {
                byte[] junk = new byte[8192];
                Arrays.fill(junk, (byte) 0xa5);
                dirty.write(0, junk);
            }
            try (Block zero = Block.allocateZeroed(8192)) {
                assertArrayEquals(zeros, zero.toByteArray());
            }
        }
    }

    @Test
    void aligned() {
        for (long alignment : new long[] {64, 4096, 1 << 16}) {
            try (Block block = Block.allocateAligned(1000, alignment, true)) {
                assertEquals(0, block.address() % alignment, "alignment " + alignment);
                assertEquals(alignment, block.alignment());
                assertArrayEquals(new byte[1000], block.toByteArray());
            }
        }
    }

    @Test
    void errorsAreJavasErrors() {
        long half = Long.MAX_VALUE; // SIZE_MAX / 2 = PTRDIFF_MAX
        OutOfMemoryError e = assertThrows(OutOfMemoryError.class, () -> Block.allocate(half));
        assertTrue(e.getMessage().contains("out of memory (ENOMEM)"), e.getMessage());
        assertThrows(OutOfMemoryError.class, () -> Block.allocateZeroed(half));
        assertThrows(OutOfMemoryError.class, () -> Block.allocateAligned(half, 64));
        for (long alignment : new long[] {3, 48}) {
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                    () -> Block.allocateAligned(8, alignment));
            assertTrue(bad.getMessage().contains("EINVAL"), bad.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Block.allocateAligned(8, 0));
        assertThrows(IllegalArgumentException.class, () -> Block.allocate(-1));
        try (Block after = Block.allocate(16)) { // a success right after failures
            assertEquals(16, after.size());
        }
    }

    @Test
    void aBlockAboveTwoGibibytesHasPartialBuffersOnly() {
        long size = (1L << 31) + 4096; // reserved, never touched but at the end
        try (Block big = Block.allocate(size)) {
            assertThrows(UnsupportedOperationException.class, big::buffer);
            ByteBuffer tail = big.buffer(size - 4096, 4096);
            tail.put(4095, (byte) 7);
            byte[] last = new byte[1];
            big.read(size - 1, last, 0, 1);
            assertEquals(7, last[0]);
        }
    }

    @Test
    void aClosedBlockWhoseBufferIsReachableIsReleasedOnlyOnceItIsCollected() throws Exception {
        // Other tests' closed blocks may go back meanwhile, on the cleaner's
        // thread: the figures below only fall for that, never rise.
        long size = 32 * TestSupport.MIB;
        Block block = Block.allocate(size);
        ByteBuffer kept = block.buffer().slice(); // a slice keeps the view reachable too
        kept.put(0, (byte) 42);
        block.close();
        assertTrue(block.isClosed());
        assertThrows(IllegalStateException.class, block::buffer);
        System.gc();
        Thread.sleep(20);
        assertFalse(block.isReleased());
        assertEquals(42, kept.get(0), "the kept buffer is still valid memory");
        long during = GraphbitAlloc.stats().allocated();
        assertTrue(during >= size, "allocated " + during + " while the buffer is kept");
        kept = null;
        assertTrue(TestSupport.collectUntil(block::isReleased), "not released after the buffer went");
        long after = GraphbitAlloc.stats().allocated();
        assertTrue(!TestSupport.liveBytes() || after <= during - size * 95 / 100,
                "allocated " + during + " -> " + after);
    }

    @Test
    void aBlockCollectedWithoutCloseIsFreedAndCounted() throws Exception {
        long before = Block.leakedBlocks();
        dropOne();
        assertTrue(TestSupport.collectUntil(() -> Block.leakedBlocks() > before), "no leak counted");
    }

    private static void dropOne() {
        Block.allocate(12345).write(0, new byte[] {1});
    }

    @Test
    void ownsTellsBlocksFromJavaMemory() {
        try (Block block = Block.allocate(100)) {
            boolean owned = !GraphbitAlloc.allocatorName().equals("system");
            assertEquals(owned, GraphbitAlloc.owns(block.address()));
            assertEquals(owned, GraphbitAlloc.owns(block.buffer()));
        }
        assertFalse(GraphbitAlloc.owns(ByteBuffer.allocateDirect(100)));
        assertFalse(GraphbitAlloc.owns(ByteBuffer.allocate(100)));
        assertFalse(GraphbitAlloc.owns(0));
        assertNotEquals(0, GraphbitAlloc.versionNumber());
    }
}
