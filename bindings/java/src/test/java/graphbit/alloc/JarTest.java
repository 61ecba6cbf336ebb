package graphbit.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/** The jar test.sh packs from pom.xml, as a user takes it: the artifact alone plus JNA. */
class JarTest {
    private static Path jar() {
        return Path.of(TestSupport.need("graphbit.test.jar"));
    }

    @Test
    void theJarCarriesTheClassesThePomAndItsCoordinates() throws Exception {
        try (JarFile jar = new JarFile(jar().toFile())) {
            for (String name : List.of("graphbit/alloc/Block.class", "graphbit/alloc/GraphbitAlloc.class",
                    "graphbit/alloc/Stats.class")) {
                assertNotNull(jar.getEntry(name), name);
            }
            String base = "META-INF/maven/io.github.graphbit/graphbit-alloc/";
            try (InputStream pom = jar.getInputStream(jar.getEntry(base + "pom.xml"))) {
                assertEquals(Files.readString(TestSupport.repo().resolve("bindings/java/pom.xml")),
                        new String(pom.readAllBytes(), StandardCharsets.UTF_8));
            }
            Properties coordinates = new Properties();
            try (InputStream in = jar.getInputStream(jar.getEntry(base + "pom.properties"))) {
                coordinates.load(in);
            }
            assertEquals("io.github.graphbit", coordinates.getProperty("groupId"));
            assertEquals("graphbit-alloc", coordinates.getProperty("artifactId"));
            // The artifact's version is the library's (Cargo.toml's first version line).
            String cargo = Files.readString(TestSupport.repo().resolve("Cargo.toml"));
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^version = \"([^\"]+)\"").matcher(cargo);
            assertTrue(m.find());
            assertEquals(m.group(1), coordinates.getProperty("version"));
            assertTrue(jar().getFileName().toString().equals("graphbit-alloc-" + m.group(1) + ".jar"), jar().toString());
            assertEquals("graphbit.alloc", jar.getManifest().getMainAttributes().getValue("Automatic-Module-Name"));
        }
    }

    @Test
    void theQuickStartRunsOnTheJarAndJnaAlone() throws Exception {
        Path example = TestSupport.repo().resolve("bindings/java/examples/QuickStart.java");
        ProcessBuilder builder = new ProcessBuilder(TestSupport.java(), "-cp",
                jar() + java.io.File.pathSeparator + TestSupport.need("graphbit.test.jna"), example.toString());
        builder.redirectErrorStream(true);
        builder.environment().put("GRAPHBIT_ALLOC_LIB", GraphbitAlloc.libraryPath());
        Process process = builder.start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        process.getInputStream().transferTo(out);
        assertTrue(process.waitFor(120, TimeUnit.SECONDS));
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, process.exitValue(), text);
        assertEquals("hello\n" + GraphbitAlloc.allocatorName() + " true true\n", text);
    }
}
