package graphbit.alloc;

/**
 * {@code gb_stats} in bytes (see include/graphbit_alloc.h). A figure the
 * backend does not keep is {@link #UNAVAILABLE}.
 *
 * @param allocated bytes in live allocations
 * @param active bytes in pages that hold live allocations
 * @param resident bytes of the backend's memory resident in RAM
 * @param mapped bytes the backend has mapped from the OS
 * @param retained bytes kept mapped but unused
 * @param peakResident the process's peak resident set size (all memory)
 */
public record Stats(long allocated, long active, long resident, long mapped, long retained,
                    long peakResident) {
    /** GB_STAT_UNAVAILABLE (UINT64_MAX), which is -1 as a Java long. */
    public static final long UNAVAILABLE = -1L;
}
