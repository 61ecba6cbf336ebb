package gballoc_test

// The success path of the profile wrappers, against the profiling library:
// test.sh runs this test again with LD_PRELOAD=libgraphbit_alloc_profiling.so
// and GB_EXPECT_PROFILING=1 (the preloaded library's gb_* calls come first),
// and checks that it passed, not skipped. Against the library the other
// tests link, TestProfileNeedsTheProfilingBuild checks the ENOTSUP answer.

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	gballoc "github.com/graphbit/graphbit-alloc/bindings/go"
)

func TestProfileWithTheProfilingLibrary(t *testing.T) {
	if os.Getenv("GB_EXPECT_PROFILING") != "1" {
		t.Skip("needs the profiling library: test.sh runs it under LD_PRELOAD=libgraphbit_alloc_profiling.so")
	}
	dir := t.TempDir()
	if err := gballoc.ProfileStart(4096); err != nil {
		t.Fatalf("ProfileStart: %v", err)
	}
	if err := gballoc.ProfileStart(0); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("ProfileStart while sampling: %v, want EBUSY", err)
	}
	var buffers []*gballoc.Buffer
	for i := 0; i < 1000; i++ {
		b, err := gballoc.New(1000)
		if err != nil {
			t.Fatal(err)
		}
		buffers = append(buffers, b)
	}
	for _, peak := range []bool{false, true} {
		path := filepath.Join(dir, "heap.pb.gz")
		if peak {
			path += ".peak"
		}
		if err := gballoc.ProfileDump(path, peak); err != nil {
			t.Fatalf("ProfileDump(peak %v): %v", peak, err)
		}
		data, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Fatalf("%s: not a gzip file (%v)", path, err)
		}
	}
	if err := gballoc.ProfileDump(filepath.Join(dir, "no", "such", "dir"), false); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("ProfileDump into a missing directory: %v, want ENOENT", err)
	}
	if err := gballoc.ProfileStop(); err != nil {
		t.Fatalf("ProfileStop: %v", err)
	}
	if err := gballoc.ProfileStop(); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("ProfileStop when stopped: %v, want EINVAL", err)
	}
	for _, b := range buffers {
		b.Free()
	}
}
