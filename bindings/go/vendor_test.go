package gballoc_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVendoredModule: a module of its own requires this one (by its module
// path, replaced by this directory, as where the repository cannot be
// fetched), `go mod vendor` copies it, and the program builds from vendor/
// alone and runs. The package needs no file outside the module: cgo finds
// the header and library through pkg-config.
func TestVendoredModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module: not with -short")
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/graphbit/graphbit-alloc/bindings/go"
	dir := t.TempDir()
	// A copy of the module, removed once vendored: the build must then
	// manage with vendor/ alone.
	clone := filepath.Join(t.TempDir(), "gballoc")
	if err := copyTree(here, clone); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/vendoruser\n\ngo 1.19\n\nrequire "+module+" v0.0.0\n\nreplace "+module+" => "+clone+"\n")
	write("main.go", `package main

import (
	"fmt"
	"os"

	gballoc "`+module+`"
)

func main() {
	buf, err := gballoc.New(64, gballoc.Zeroed())
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	n := copy(buf.Bytes(), "vendored")
	fmt.Println(string(buf.Bytes()[:n]), gballoc.AllocatorName(), gballoc.Verify())
	buf.Free()
}
`)
	run := func(args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GOPROXY=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("mod", "vendor")
	vendored := filepath.Join(dir, "vendor", filepath.FromSlash(module), "gballoc.go")
	if _, err := os.Stat(vendored); err != nil {
		t.Fatalf("go mod vendor did not copy the package: %v", err)
	}
	if err := os.RemoveAll(clone); err != nil {
		t.Fatal(err)
	}
	run("build", "-mod=vendor", "-o", "vendoruser", ".")
	out, err := exec.Command(filepath.Join(dir, "vendoruser")).CombinedOutput()
	if err != nil {
		t.Fatalf("the vendored program: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "vendored ") || !strings.HasSuffix(strings.TrimSpace(string(out)), " true") {
		t.Fatalf("the vendored program printed %q", out)
	}
}

// copyTree copies the regular files under from to to.
func copyTree(from, to string) error {
	return filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
