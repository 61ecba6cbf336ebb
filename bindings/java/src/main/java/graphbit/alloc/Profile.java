package graphbit.alloc;

import java.util.Objects;

/**
 * Heap profiles: thin wrappers of {@code gb_profile_start}, {@code gb_profile_stop},
 * {@code gb_profile_dump} and {@code gb_profile_dump_peak}. Only the profiling library
 * ({@code libgraphbit_alloc_profiling}, or the profiling override preloaded) samples; the
 * others answer ENOTSUP, thrown as a {@link ProfileException} with {@code errno() == 95}.
 */
public final class Profile {
    private Profile() {}

    /**
     * Starts sampling: one sample every {@code sampleBytes} bytes allocated on average
     * (0: 512 KiB).
     *
     * @throws IllegalArgumentException for a negative {@code sampleBytes}
     * @throws ProfileException EBUSY when already sampling, ENOTSUP without profiling
     */
    public static void start(long sampleBytes) {
        if (sampleBytes < 0) {
            throw new IllegalArgumentException("sampleBytes must be >= 0, not " + sampleBytes);
        }
        GraphbitAlloc.ensureLoaded();
        check("gb_profile_start", GraphbitAlloc.Gb.gb_profile_start(sampleBytes));
    }

    /**
     * Stops sampling; the samples taken stay for {@link #dump}.
     *
     * @throws ProfileException EINVAL when not sampling, ENOTSUP without profiling
     */
    public static void stop() {
        GraphbitAlloc.ensureLoaded();
        check("gb_profile_stop", GraphbitAlloc.Gb.gb_profile_stop());
    }

    /**
     * Writes the live heap to {@code path} as a gzipped pprof profile ({@code go tool pprof}).
     *
     * @throws ProfileException ENOTSUP without profiling, or the errno of writing the file
     */
    public static void dump(String path) {
        Objects.requireNonNull(path, "path");
        GraphbitAlloc.ensureLoaded();
        check("gb_profile_dump", GraphbitAlloc.Gb.gb_profile_dump(path));
    }

    /**
     * Writes the heap at its peak since {@link #start} to {@code path}, as {@link #dump} does.
     *
     * @throws ProfileException ENOTSUP without profiling, or the errno of writing the file
     */
    public static void dumpPeak(String path) {
        Objects.requireNonNull(path, "path");
        GraphbitAlloc.ensureLoaded();
        check("gb_profile_dump_peak", GraphbitAlloc.Gb.gb_profile_dump_peak(path));
    }

    private static void check(String function, int code) {
        if (code != 0) {
            throw new ProfileException(function, code);
        }
    }
}
