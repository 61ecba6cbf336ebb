package graphbit.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ThreadsTest {
    @Test
    void threadsAllocateWriteReadAndCloseAtOnceWithCrossThreadCloses() throws Exception {
        int workers = 8;
        int rounds = 3000;
        BlockingQueue<Block> handoff = new ArrayBlockingQueue<>(256);
        ExecutorService pool = Executors.newFixedThreadPool(workers + 1);
        Block done = Block.allocate(1); // the end of the hand-off
        try {
            Future<Integer> closer = pool.submit(() -> {
                int closed = 0;
                for (Block b; (b = handoff.take()) != done; closed++) {
                    byte[] first = new byte[1];
                    b.read(0, first, 0, 1);
                    if (first[0] != (byte) b.size()) {
                        throw new AssertionError("handed-off block changed");
                    }
                    b.close();
                }
                return closed;
            });
            List<Future<?>> results = new ArrayList<>();
            for (int w = 1; w <= workers; w++) {
                int seed = w;
                results.add(pool.submit(() -> {
                    ArrayDeque<Block> held = new ArrayDeque<>();
                    for (int i = 0; i < rounds; i++) {
                        int size = (seed * 7919 + i * 104729) % 20000 + 1;
                        Block b = Block.allocate(size);
                        b.buffer().put(0, (byte) seed).put(size - 1, (byte) seed);
                        held.add(b);
                        if (held.size() > 50) {
                            Block old = held.removeFirst();
                            byte[] ends = new byte[1];
                            old.read(old.size() - 1, ends, 0, 1);
                            if (ends[0] != (byte) seed || old.buffer().get(0) != (byte) seed) {
                                throw new AssertionError("thread " + seed + ": block changed");
                            }
                            old.close();
                        }
                        if (i % 10 == 0) {
                            Block h = Block.allocate(size % 200 + 1);
                            h.write(0, new byte[] {(byte) h.size()});
                            handoff.put(h);
                        }
                    }
                    held.forEach(Block::close);
                    return null;
                }));
            }
            for (Future<?> f : results) {
                f.get(120, TimeUnit.SECONDS);
            }
            handoff.put(done);
            assertEquals(workers * (rounds / 10), closer.get(60, TimeUnit.SECONDS));
        } finally {
            pool.shutdownNow();
            done.close();
        }
        assertTrue(GraphbitAlloc.verify());
    }

    @Test
    void copiesRacingCloseSeeTheBlockOrAnError() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            for (int round = 0; round < 200; round++) {
                Block block = Block.allocate(4096);
                byte[] sevens = new byte[4096];
                java.util.Arrays.fill(sevens, (byte) 7);
                block.write(0, sevens);
                List<Future<?>> readers = new ArrayList<>();
                for (int r = 0; r < 2; r++) {
                    readers.add(pool.submit(() -> {
                        byte[] p = new byte[4096];
                        while (true) {
                            try {
                                block.read(0, p, 0, p.length);
                            } catch (IllegalStateException closed) {
                                return null;
                            }
                            if (p[0] != 7 || p[4095] != 7) {
                                throw new AssertionError("read freed memory");
                            }
                        }
                    }));
                }
                Thread.yield();
                block.close();
                for (Future<?> f : readers) {
                    f.get(30, TimeUnit.SECONDS);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
