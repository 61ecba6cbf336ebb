package graphbit.alloc;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.io.File;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * graphbit-alloc from Java: the C API over JNA (no compiler needed), and the
 * library's statistics, verification and trimming; {@link Block} is a block of
 * its memory.
 *
 * <p>The shared library is found, in this order, at: the path given to
 * {@link #load(String)} before first use, the system property
 * {@code graphbit.alloc.lib}, the {@code GRAPHBIT_ALLOC_LIB} environment
 * variable, a {@code libgraphbit_alloc_dlopen.so*} next to this jar (or class
 * directory), or JNA's search for {@code graphbit_alloc_dlopen}
 * ({@code jna.library.path}, {@code java.library.path}, the system's path).
 * JNA loads it with dlopen into the running JVM, which is why it is the dlopen
 * variant: the default {@code libgraphbit_alloc.so} uses initial-exec TLS,
 * which a dlopen into a running program cannot have on jemalloc ("cannot
 * allocate memory in static TLS block"); a path to it is still tried, and that
 * error is explained. When nothing loads, the {@link UnsatisfiedLinkError}
 * lists every candidate and why it failed.
 *
 * <p>Allocation failures throw {@link OutOfMemoryError} (ENOMEM) and
 * {@link IllegalArgumentException} (EINVAL: a bad alignment, a negative size).
 */
public final class GraphbitAlloc {
    /** The environment variable naming the library file. */
    public static final String ENV_VAR = "GRAPHBIT_ALLOC_LIB";
    /** The system property naming the library file. */
    public static final String PROPERTY = "graphbit.alloc.lib";

    private static final int ENOMEM = 12;
    private static final int EINVAL = 22;
    private static final int STATS_SIZE = 8 + 6 * 8; // size_t size + six uint64_t

    private static String explicitPath;
    private static volatile String loadedPath;

    private GraphbitAlloc() {}

    /** Direct-mapped functions of include/graphbit_alloc.h (size_t as long: 64-bit only). */
    static final class Gb {
        private Gb() {}

        static native Pointer gb_alloc(long size);
        static native Pointer gb_calloc(long count, long size);
        static native Pointer gb_aligned_alloc(long alignment, long size);
        static native void gb_free(Pointer ptr);
        static native void gb_free_sized(Pointer ptr, long size);
        static native void gb_free_aligned_sized(Pointer ptr, long alignment, long size);
        static native long gb_usable_size(Pointer ptr);
        static native Pointer gb_allocator_name();
        static native Pointer gb_allocator_version();
        static native Pointer gb_version();
        static native int gb_version_number();
        static native byte gb_verify(); // C bool: one byte
        static native long gb_verify_report(byte[] buf, long bufLen);
        static native int gb_stats(Pointer out);
        static native int gb_trim();
        static native int gb_thread_idle();
        static native byte gb_owns(Pointer ptr);
        static native long gb_backend_stats_text(byte[] buf, long bufLen);
        // Heap profiles (Profile.java).
        static native int gb_profile_start(long sampleBytes);
        static native int gb_profile_stop();
        static native int gb_profile_dump(String path);
        static native int gb_profile_dump_peak(String path);
    }

    /**
     * Loads the library from {@code path} instead of searching; only before the
     * first use (afterwards, only the path already loaded is accepted).
     *
     * @throws UnsatisfiedLinkError when it cannot be loaded
     */
    public static synchronized void load(String path) {
        if (loadedPath != null) {
            if (!new File(loadedPath).getAbsoluteFile().equals(new File(path).getAbsoluteFile())) {
                throw new IllegalStateException("graphbit-alloc: already loaded from " + loadedPath
                        + "; load(" + path + ") must come before the first use");
            }
            return;
        }
        explicitPath = path;
        ensureLoaded();
    }

    /** The file the library was loaded from (loading it if needed). */
    public static String libraryPath() {
        ensureLoaded();
        return loadedPath;
    }

    static void ensureLoaded() {
        if (loadedPath == null) {
            synchronized (GraphbitAlloc.class) {
                if (loadedPath == null) {
                    open();
                }
            }
        }
    }

    /** Where to look, in order: {path, where it came from}. */
    static List<String[]> candidates(String explicit) {
        List<String[]> out = new ArrayList<>();
        if (explicit != null) {
            out.add(new String[] {explicit, "the path argument"});
            return out;
        }
        String property = System.getProperty(PROPERTY);
        if (property != null && !property.isEmpty()) {
            out.add(new String[] {property, "-D" + PROPERTY});
            return out;
        }
        String env = System.getenv(ENV_VAR);
        if (env != null && !env.isEmpty()) {
            out.add(new String[] {env, "$" + ENV_VAR});
            return out;
        }
        File here = codeDirectory();
        if (here != null) {
            String[] names = here.list((dir, name) -> name.startsWith("libgraphbit_alloc_dlopen.so")
                    || name.startsWith("libgraphbit_alloc_dlopen.") && name.endsWith(".dylib")
                    || name.equals("graphbit_alloc_dlopen.dll"));
            if (names != null) {
                Arrays.sort(names);
                for (String name : names) {
                    out.add(new String[] {new File(here, name).getPath(), "next to the jar"});
                }
            }
        }
        out.add(new String[] {"graphbit_alloc_dlopen", "JNA's search (jna.library.path, java.library.path, the system)"});
        return out;
    }

    /** The directory holding this jar, or the class directory's root. */
    private static File codeDirectory() {
        try {
            var source = GraphbitAlloc.class.getProtectionDomain().getCodeSource();
            if (source == null) {
                return null;
            }
            File location = new File(source.getLocation().toURI());
            return location.isFile() ? location.getParentFile() : location;
        } catch (URISyntaxException | SecurityException | IllegalArgumentException e) {
            return null;
        }
    }

    static String explain(Throwable error) {
        String text = String.valueOf(error.getMessage());
        if (text.contains("static TLS")) {
            text += " (this is the initial-exec build, for programs that link it at start-up;"
                    + " load libgraphbit_alloc_dlopen.so instead)";
        }
        return text;
    }

    private static void open() {
        if (Native.SIZE_T_SIZE != 8) {
            throw new UnsatisfiedLinkError("graphbit-alloc: the Java binding needs a 64-bit JVM (size_t as long)");
        }
        List<String> tried = new ArrayList<>();
        for (String[] candidate : candidates(explicitPath)) {
            NativeLibrary library;
            try {
                library = NativeLibrary.getInstance(candidate[0]);
                Native.register(Gb.class, library);
            } catch (UnsatisfiedLinkError e) {
                tried.add(candidate[0] + " (" + candidate[1] + "): " + explain(e));
                continue;
            }
            loadedPath = library.getFile() != null ? library.getFile().getPath() : candidate[0];
            return;
        }
        String where = String.join("; ", tried);
        throw new UnsatisfiedLinkError("graphbit-alloc: cannot load the library, tried " + where
                + " (pass a path to GraphbitAlloc.load, set " + ENV_VAR + " or -D" + PROPERTY + ")");
    }

    /** The pointer an allocation returned, or the error its errno means. */
    static Pointer check(Pointer pointer, String what) {
        if (pointer != null) {
            return pointer;
        }
        int errno = Native.getLastError();
        if (errno == EINVAL) {
            throw new IllegalArgumentException(what + ": invalid argument (EINVAL)");
        }
        throw new OutOfMemoryError(what + ": out of memory (" + (errno == ENOMEM ? "ENOMEM" : "errno " + errno) + ")");
    }

    private static String string(Pointer p) {
        return p.getString(0, StandardCharsets.UTF_8.name());
    }

    /** The backend: "jemalloc", "mimalloc" or "system". */
    public static String allocatorName() {
        ensureLoaded();
        return string(Gb.gb_allocator_name());
    }

    /** The backend's own version string. */
    public static String allocatorVersion() {
        ensureLoaded();
        return string(Gb.gb_allocator_version());
    }

    /** The library's version, "MAJOR.MINOR.PATCH". */
    public static String version() {
        ensureLoaded();
        return string(Gb.gb_version());
    }

    /** MAJOR * 10000 + MINOR * 100 + PATCH. */
    public static int versionNumber() {
        ensureLoaded();
        return Gb.gb_version_number();
    }

    /** Checks, with real allocations, that the backend serves the library. */
    public static boolean verify() {
        ensureLoaded();
        return Gb.gb_verify() != 0;
    }

    private interface TextFunction {
        long fill(byte[] buf, long len);
    }

    private static String text(TextFunction function) {
        // snprintf-style: ask for the length, then fill; again if it grew.
        while (true) {
            long needed = function.fill(null, 0);
            byte[] buf = new byte[Math.toIntExact(needed + 1)];
            long got = function.fill(buf, buf.length);
            if (got <= needed) {
                return new String(buf, 0, (int) got, StandardCharsets.UTF_8);
            }
        }
    }

    /** gb_verify_report: the checks and their evidence, as JSON text. */
    public static String verifyReport() {
        ensureLoaded();
        return text(Gb::gb_verify_report);
    }

    /** The backend's own statistics report. */
    public static String backendStatsText() {
        ensureLoaded();
        return text(Gb::gb_backend_stats_text);
    }

    /** Memory statistics, fresh (costs more than an allocation: for monitoring). */
    public static Stats stats() {
        ensureLoaded();
        try (Memory raw = new Memory(STATS_SIZE)) {
            raw.clear();
            raw.setLong(0, STATS_SIZE);
            int code = Gb.gb_stats(raw);
            if (code != 0) {
                throw new IllegalStateException("gb_stats failed (errno " + code + ")");
            }
            return new Stats(raw.getLong(8), raw.getLong(16), raw.getLong(24), raw.getLong(32),
                    raw.getLong(40), raw.getLong(48));
        }
    }

    /** Gives memory the backend holds but does not use back to the OS now (slow). */
    public static void trim() {
        ensureLoaded();
        int code = Gb.gb_trim();
        if (code != 0) {
            throw new IllegalStateException("gb_trim failed (errno " + code + ")");
        }
    }

    /** The calling thread is going idle: its cached blocks go back to the shared heap (a hint; cheap). */
    public static void threadIdle() {
        ensureLoaded();
        int code = Gb.gb_thread_idle();
        if (code != 0) {
            throw new IllegalStateException("gb_thread_idle failed (errno " + code + ")");
        }
    }

    /** Whether the address is in memory the backend manages (false for 0). */
    public static boolean owns(long address) {
        ensureLoaded();
        return Gb.gb_owns(address == 0 ? null : new Pointer(address)) != 0;
    }

    /** Whether a direct buffer's memory is the backend's (false for heap buffers). */
    public static boolean owns(ByteBuffer buffer) {
        if (!buffer.isDirect()) {
            return false;
        }
        return owns(Pointer.nativeValue(Native.getDirectBufferPointer(buffer)));
    }
}
