package graphbit.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.NativeLibrary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class LibraryTest {
    @Test
    void identityAsTheHeaderSays() throws IOException {
        String name = GraphbitAlloc.allocatorName();
        assertTrue(List.of("jemalloc", "mimalloc", "system").contains(name), name);
        String expected = System.getenv("GB_EXPECT_BACKEND");
        if (expected != null && !expected.isEmpty()) {
            assertEquals(expected, name);
        }
        assertFalse(GraphbitAlloc.allocatorVersion().isEmpty());
        String header = Files.readString(TestSupport.repo().resolve("include/graphbit_alloc.h"));
        Matcher m = Pattern.compile("#define GB_VERSION_STRING \"(\\d+)\\.(\\d+)\\.(\\d+)\"").matcher(header);
        assertTrue(m.find());
        assertEquals(m.group(1) + "." + m.group(2) + "." + m.group(3), GraphbitAlloc.version());
        assertEquals(Integer.parseInt(m.group(1)) * 10000 + Integer.parseInt(m.group(2)) * 100
                + Integer.parseInt(m.group(3)), GraphbitAlloc.versionNumber());
    }

    @Test
    void loadedFromGraphbitAllocLib() throws IOException {
        Path want = Path.of(System.getenv(GraphbitAlloc.ENV_VAR));
        assertEquals(want.toRealPath(), Path.of(GraphbitAlloc.libraryPath()).toRealPath());
    }

    @Test
    void verifyAndReport() {
        assertTrue(GraphbitAlloc.verify());
        String report = GraphbitAlloc.verifyReport();
        assertTrue(report.startsWith("{") && report.endsWith("}"), report);
        assertTrue(report.matches("(?s).*\"passed\"\\s*:\\s*true.*"), report);
        assertFalse(report.matches("(?s).*\"passed\"\\s*:\\s*false.*"), report);
        assertTrue(report.contains("\"backend\":\"" + GraphbitAlloc.allocatorName() + "\"")
                || report.matches("(?s).*\"backend\"\\s*:\\s*\"" + GraphbitAlloc.allocatorName() + "\".*"), report);
        assertTrue(GraphbitAlloc.backendStatsText().length() > 20);
    }

    @Test
    void statsFollowALargeBlock() throws Exception {
        long size = 64 * TestSupport.MIB;
        // Let other tests' closed blocks go back first (their cleaners run on
        // another thread), and keep each measured window short.
        TestSupport.collectUntil(() -> false, 5);
        Stats before = GraphbitAlloc.stats();
        assertNotEquals(Stats.UNAVAILABLE, before.allocated());
        try (Block block = Block.allocate(size)) {
            long now = GraphbitAlloc.stats().allocated();
            assertTrue(now >= size, "allocated " + now + " with the block live");
            long grew = now - before.allocated();
            assertTrue(!TestSupport.liveBytes() || grew >= size * 95 / 100, "allocated grew by " + grew);
            byte[] one = {1};
            for (long at = 0; at < size; at += 4096) {
                block.write(at, one); // touch every page
            }
            Stats during = GraphbitAlloc.stats();
            if (during.resident() != Stats.UNAVAILABLE) {
                long resident = during.resident() - before.resident();
                assertTrue(resident >= size * 9 / 10, "resident grew by " + resident);
            }
        }
        Stats after = GraphbitAlloc.stats();
        assertTrue(after.peakResident() >= size);
        assertTrue(!TestSupport.liveBytes() || after.allocated() - before.allocated() < size / 2,
                "allocated did not fall after close()");
        GraphbitAlloc.trim();
        GraphbitAlloc.threadIdle(); // throws on a non-zero result
    }

    @Test
    void theInitialExecLibraryLoadsOrItsErrorIsExplained() {
        String path = TestSupport.need("graphbit.test.initialExecLib");
        try {
            NativeLibrary.getInstance(path).close();
        } catch (UnsatisfiedLinkError e) {
            String text = GraphbitAlloc.explain(e);
            assertTrue(text.contains("static TLS"), text);
            assertTrue(text.contains("load libgraphbit_alloc_dlopen.so instead"), text);
        }
    }

    @Test
    void searchOrder() {
        List<String[]> explicit = GraphbitAlloc.candidates("/x/lib.so");
        assertEquals(1, explicit.size());
        assertEquals("the path argument", explicit.get(0)[1]);
        List<String[]> found = GraphbitAlloc.candidates(null);
        String first = found.get(0)[1];
        assertTrue(first.equals("$GRAPHBIT_ALLOC_LIB") || first.equals("-Dgraphbit.alloc.lib"), first);
    }

    private static Process run(Map<String, String> env, Path cwd, String... command) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).directory(cwd.toFile());
        builder.environment().remove(GraphbitAlloc.ENV_VAR);
        builder.environment().putAll(env);
        return builder.start();
    }

    private static String output(Process p) throws Exception {
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return out;
    }

    @Test
    void aWrongLibrarySaysWhatWasTried() throws Exception {
        Process p = run(Map.of(GraphbitAlloc.ENV_VAR, "/nonexistent/libgb.so"), TestSupport.repo(),
                TestSupport.java(), "-cp", TestSupport.classpath(), "graphbit.alloc.LoadProbe");
        String out = output(p);
        assertNotEquals(0, p.exitValue(), out);
        assertTrue(out.contains("cannot load the library, tried /nonexistent/libgb.so ($GRAPHBIT_ALLOC_LIB)"), out);
    }

    @Test
    void aLibraryNextToTheJarIsFound() throws Exception {
        Path dir = Files.createTempDirectory("gb-java-");
        try {
            // The binding's classes, as a jar, with the library beside it.
            Path classes = Path.of(GraphbitAlloc.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path jar = dir.resolve("graphbit-alloc.jar");
            Process jarProcess = run(Map.of(), dir, Path.of(System.getProperty("java.home"), "bin", "jar").toString(),
                    "--create", "--file", jar.toString(), "-C", classes.toString(), "graphbit");
            assertEquals(0, jarProcess.waitFor(), output(jarProcess));
            Path lib = dir.resolve("libgraphbit_alloc_dlopen.so.0.1.0");
            Files.copy(Path.of(System.getenv(GraphbitAlloc.ENV_VAR)), lib);
            String cp = jar + ":" + TestSupport.classpath();
            Process p = run(Map.of("LD_LIBRARY_PATH", ""), dir, TestSupport.java(), "-cp", cp, "graphbit.alloc.LoadProbe");
            String out = output(p);
            assertEquals(0, p.exitValue(), out);
            assertEquals(lib.toRealPath() + " true", out.trim());
        } finally {
            try (var paths = Files.walk(dir)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
