package dev.fila.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The example in the README and docs/sdk-java.md is the example file, and it runs. */
class DocsTest extends BrokerTest {
  static final String EXAMPLE = "src/test/java/examples/Fair.java";
  static final String FAIR =
      "acme globex initech acme globex initech acme globex initech acme acme acme acme acme\n";

  static List<Path> docs() {
    return List.of(TestBroker.repoRoot().resolve("docs/sdk-java.md"),
        TestBroker.repoRoot().resolve("sdks/java/README.md"));
  }

  /** The body of the first ``` block of lang after marker in the file. */
  static String fenced(Path doc, String marker, String lang) throws IOException {
    String text = Files.readString(doc);
    int at = text.indexOf(marker);
    assertTrue(at >= 0, doc + " has no " + marker);
    Matcher m = Pattern.compile("(?s)```" + lang + "\n(.*?)```").matcher(text);
    assertTrue(m.find(at), doc + " has no ```" + lang + " block after " + marker);
    return m.group(1);
  }

  @Test
  void docsShowTheExampleFile() throws IOException {
    String want = Files.readString(TestBroker.repoRoot().resolve("sdks/java").resolve(EXAMPLE));
    for (Path doc : docs()) {
      assertEquals(want, fenced(doc, "<!-- java-example: " + EXAMPLE + " -->", "java"),
          "the Java block in " + doc + " differs from " + EXAMPLE + ": copy the file into it");
    }
  }

  @Test
  void exampleRunsAndPrintsWhatTheDocsSay() throws Exception {
    TestBroker b = broker(List.of(), Map.of());
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        "examples.Fair");
    pb.environment().put("FILA_ADDR", b.addr());
    Path err = Files.createTempFile("fila-example", ".err");
    pb.redirectError(err.toFile());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("the example did not finish:\n" + Files.readString(err));
    }
    assertEquals(0, p.exitValue(), "the example failed:\n" + Files.readString(err));
    Files.deleteIfExists(err);
    assertEquals(FAIR, out);
    for (Path doc : docs()) {
      assertEquals(FAIR, fenced(doc, "<!-- java-output: " + EXAMPLE + " -->", "text"),
          doc + " shows another output than the example prints");
    }
  }
}
