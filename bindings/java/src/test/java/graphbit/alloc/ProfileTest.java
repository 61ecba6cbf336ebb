package graphbit.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The profile wrappers: ENOTSUP from the library the other tests load (built
 * without profiling), and the success path against the profiling library
 * ($GB_PROFILING_LIB, default libgraphbit_alloc_profiling.so beside
 * $GRAPHBIT_ALLOC_LIB; "skip" skips). That library is the initial-exec
 * build, which a running JVM cannot dlopen: the probe runs in a child JVM
 * that preloads it, so JNA finds it already loaded.
 */
class ProfileTest {
    @Test
    void withoutProfilingEveryCallThrowsEnotsup() throws Exception {
        Path dir = Files.createTempDirectory("gb-java-profile-");
        Path file = dir.resolve("heap.pb.gz");
        try {
            for (Runnable call : new Runnable[] {
                () -> Profile.start(0), Profile::stop,
                () -> Profile.dump(file.toString()), () -> Profile.dumpPeak(file.toString())}) {
                ProfileException e = assertThrows(ProfileException.class, call::run);
                assertEquals(ProfileException.ENOTSUP, e.errno(), e.getMessage());
            }
            assertFalse(Files.exists(file));
            assertThrows(IllegalArgumentException.class, () -> Profile.start(-1));
            assertThrows(NullPointerException.class, () -> Profile.dump(null));
        } finally {
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void withTheProfilingLibraryTheCallsWork() throws Exception {
        String given = System.getenv("GB_PROFILING_LIB");
        assumeFalse("skip".equals(given), "GB_PROFILING_LIB=skip");
        Path lib = given != null && !given.isEmpty()
                ? Path.of(given).toAbsolutePath()
                : Path.of(System.getenv(GraphbitAlloc.ENV_VAR)).toAbsolutePath().resolveSibling(
                        "libgraphbit_alloc_profiling.so");
        assertTrue(Files.isRegularFile(lib), "no profiling library at " + lib
                + " (cmake --build --preset default, or set GB_PROFILING_LIB)");
        Path dir = Files.createTempDirectory("gb-java-profile-");
        try {
            ProcessBuilder pb = new ProcessBuilder(TestSupport.java(), "-cp", TestSupport.classpath(),
                    "graphbit.alloc.ProfileProbe", dir.toString()).redirectErrorStream(true);
            pb.environment().put("LD_PRELOAD", lib.toString());
            pb.environment().put(GraphbitAlloc.ENV_VAR, lib.toString());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), out);
            assertTrue(out.contains("profile ok " + lib), out);
        } finally {
            try (var paths = Files.walk(dir)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
