package graphbit.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ReadmeTest {
    private static final String EXAMPLE = "bindings/java/examples/QuickStart.java";

    @Test
    void readmeSnippetsAreTheExampleWordForWord() throws Exception {
        Path repo = TestSupport.repo();
        String example = Files.readString(repo.resolve(EXAMPLE));
        int checked = 0;
        for (Path readme : new Path[] {repo.resolve("bindings/java/README.md"), repo.resolve("README.md")}) {
            for (String[] snippet : TestSupport.markedSnippets(readme)) {
                if (snippet[0].equals(EXAMPLE)) {
                    assertEquals(example, snippet[1], readme + ": the snippet differs from " + EXAMPLE);
                    checked++;
                }
            }
        }
        assertTrue(checked >= 1, "no README snippet is marked <!-- example: " + EXAMPLE + " -->");
    }

    @Test
    void theExampleRunsAndPrintsWhatItsCommentsSay() throws Exception {
        Process p = new ProcessBuilder(TestSupport.java(), "-cp", TestSupport.classpath(),
                TestSupport.repo().resolve(EXAMPLE).toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertEquals("hello\n" + GraphbitAlloc.allocatorName() + " true true\n", out);
    }
}
