package gballoc_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	gballoc "github.com/graphbit/graphbit-alloc/bindings/go"
)

const example = "bindings/go/examples/quickstart/main.go"

// The quick start in the READMEs (the fenced block after
// "<!-- example: bindings/go/examples/quickstart/main.go -->") is the example,
// word for word.
func TestReadmeSnippets(t *testing.T) {
	repo := filepath.Join("..", "..")
	want, err := os.ReadFile(filepath.Join(repo, example))
	if err != nil {
		t.Fatal(err)
	}
	marked := regexp.MustCompile("<!-- example: (\\S+) -->\\s*\\n```[\\w-]*\\n((?s:.*?))```")
	checked := 0
	for _, readme := range []string{"README.md", filepath.Join(repo, "README.md")} {
		text, err := os.ReadFile(readme)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range marked.FindAllStringSubmatch(string(text), -1) {
			if m[1] != example {
				continue
			}
			if m[2] != string(want) {
				t.Errorf("%s: the snippet differs from %s", readme, example)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatalf("no README snippet is marked <!-- example: %s -->", example)
	}
}

// The example builds and prints what its comments say.
func TestQuickstartRuns(t *testing.T) {
	out, err := exec.Command("go", "run", "./examples/quickstart").CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	if want := "hello\n" + gballoc.AllocatorName() + " true true\n"; string(out) != want {
		t.Fatalf("output %q, want %q", out, want)
	}
}
