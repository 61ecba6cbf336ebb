package graphbit.alloc;

/**
 * {@code gb_heap_stats} of a {@link Heap} (see include/graphbit_alloc.h).
 *
 * @param limitBytes the limit in usable bytes, 0 for none
 * @param allocatedBytes usable bytes of the heap's live blocks (what the limit caps)
 * @param peakAllocatedBytes the most {@code allocatedBytes} has been
 * @param blocks live blocks
 * @param refused requests the limit (or memory) refused
 */
public record HeapStats(long limitBytes, long allocatedBytes, long peakAllocatedBytes, long blocks,
                        long refused) {}
