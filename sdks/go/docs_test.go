package fila_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fila-project/fila/sdks/go/internal/testbroker"
)

const exampleFile = "examples/fair/main.go"

// fenced returns the body of the first ``` block of the given language after marker in doc.
func fenced(t *testing.T, path, marker, lang string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	at := strings.Index(text, marker)
	if at < 0 {
		t.Fatalf("%s has no %q", path, marker)
	}
	re := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```")
	m := re.FindStringSubmatch(text[at:])
	if m == nil {
		t.Fatalf("%s has no ```%s block after %q", path, lang, marker)
	}
	return m[1]
}

func docsPage(t *testing.T) string {
	root, err := testbroker.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "docs", "sdk-go.md")
}

// The example in the docs page and the README is the example file, to the byte.
func TestDocsShowTheFairExample(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{docsPage(t), "README.md"} {
		if got := fenced(t, doc, "<!-- go-example: "+exampleFile+" -->", "go"); got != string(want) {
			t.Errorf("the Go block in %s differs from %s: copy the file into it", doc, exampleFile)
		}
	}
}

// The example runs against a real broker and prints what the docs say it prints.
func TestFairExampleRuns(t *testing.T) {
	t.Parallel()
	b := testbroker.MustStart(t, testbroker.Options{})
	cmd := exec.Command("go", "run", "./examples/fair")
	cmd.Env = append(os.Environ(), "FILA_ADDR="+b.Addr)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("go run %s: %v\n%s", exampleFile, err, errOut.String())
		}
	case <-time.After(120 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("go run %s did not finish\n%s", exampleFile, errOut.String())
	}
	const fair = "acme globex initech acme globex initech acme globex initech acme acme acme acme acme\n"
	if out.String() != fair {
		t.Fatalf("the example printed %q, want %q", out.String(), fair)
	}
	for _, doc := range []string{docsPage(t), "README.md"} {
		if got := fenced(t, doc, "<!-- go-output: "+exampleFile+" -->", "text"); got != fair {
			t.Errorf("%s shows the output %q; the example prints %q", doc, got, fair)
		}
	}
}
