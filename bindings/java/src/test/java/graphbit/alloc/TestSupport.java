package graphbit.alloc;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the tests share: the repository, the libraries test.sh names, a collector. */
final class TestSupport {
    static final long MIB = 1 << 20;

    private TestSupport() {}

    /**
     * Whether gb_stats' allocated is live bytes: it is, except on mimalloc, an
     * upper bound that freeing does not lower (include/graphbit_alloc.h).
     */
    static boolean liveBytes() {
        return !GraphbitAlloc.allocatorName().equals("mimalloc");
    }

    static String need(String property) {
        String value = System.getProperty(property);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException("-D" + property + " is not set (bindings/java/test.sh sets it)");
        }
        return value;
    }

    /** The repository (test.sh: -Dgraphbit.test.repo). */
    static Path repo() {
        return Path.of(need("graphbit.test.repo"));
    }

    /** The classpath of the binding, JNA and the test classes (test.sh: -Dgraphbit.test.classpath). */
    static String classpath() {
        return need("graphbit.test.classpath");
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Full collections until {@code done} holds (cleaners run on their own thread). */
    static boolean collectUntil(BooleanSupplier done) throws InterruptedException {
        return collectUntil(done, 200);
    }

    /** At most {@code rounds} collections until {@code done} holds. */
    static boolean collectUntil(BooleanSupplier done, int rounds) throws InterruptedException {
        for (int i = 0; i < rounds && !done.getAsBoolean(); i++) {
            System.gc();
            Thread.sleep(10);
        }
        return done.getAsBoolean();
    }

    /** The fenced blocks that follow {@code <!-- example: PATH -->}: {PATH, code}. */
    static List<String[]> markedSnippets(Path markdown) throws java.io.IOException {
        Matcher m = Pattern.compile("<!-- example: (\\S+) -->\\s*\\n```[\\w-]*\\n(.*?)```", Pattern.DOTALL)
                .matcher(Files.readString(markdown));
        List<String[]> out = new ArrayList<>();
        while (m.find()) {
            out.add(new String[] {m.group(1), m.group(2)});
        }
        return out;
    }
}
