// Tests of the Go binding against a real libgraphbit_alloc (bindings/go/test.sh
// links the one CMake built); $GB_EXPECT_BACKEND, when set, is the backend it
// must report, and $GB_EXPECT_LIB the file it must have been loaded from.
package gballoc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	gballoc "github.com/graphbit/graphbit-alloc/bindings/go"
	"github.com/graphbit/graphbit-alloc/bindings/go/internal/cmem"
)

const MiB = 1 << 20

var (
	leaksMu sync.Mutex
	leaks   []gballoc.Leak
)

// TestMain fails the run if any Buffer of the tests is dropped without Free.
func TestMain(m *testing.M) {
	gballoc.SetLeakHandler(func(l gballoc.Leak) {
		leaksMu.Lock()
		leaks = append(leaks, l)
		leaksMu.Unlock()
	})
	code := m.Run()
	for i := 0; i < 5; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	leaksMu.Lock()
	for _, l := range leaks {
		fmt.Fprintln(os.Stderr, "FAIL: leak:", l)
		code = 1
	}
	leaksMu.Unlock()
	os.Exit(code)
}

func header(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", "..", "include", "graphbit_alloc.h"))
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

func mustNew(t testing.TB, size int, opts ...gballoc.Option) *gballoc.Buffer {
	t.Helper()
	b, err := gballoc.New(size, opts...)
	if err != nil {
		t.Fatalf("New(%d): %v", size, err)
	}
	return b
}

func TestIdentity(t *testing.T) {
	name := gballoc.AllocatorName()
	if name != "jemalloc" && name != "mimalloc" && name != "system" {
		t.Fatalf("AllocatorName() = %q", name)
	}
	if want := os.Getenv("GB_EXPECT_BACKEND"); want != "" && name != want {
		t.Fatalf("AllocatorName() = %q, want %q", name, want)
	}
	if gballoc.AllocatorVersion() == "" {
		t.Fatal("empty AllocatorVersion()")
	}
	m := regexp.MustCompile(`#define GB_VERSION_STRING "(\d+)\.(\d+)\.(\d+)"`).FindStringSubmatch(header(t))
	if m == nil {
		t.Fatal("no GB_VERSION_STRING in the header")
	}
	if want := m[1] + "." + m[2] + "." + m[3]; gballoc.Version() != want {
		t.Fatalf("Version() = %q, header %q", gballoc.Version(), want)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	patch, _ := strconv.Atoi(m[3])
	if n := major*10000 + minor*100 + patch; gballoc.VersionNumber() != n || gballoc.HeaderVersionNumber != n {
		t.Fatalf("VersionNumber() = %d, HeaderVersionNumber = %d, want %d",
			gballoc.VersionNumber(), gballoc.HeaderVersionNumber, n)
	}
}

func TestLibraryPath(t *testing.T) {
	got := gballoc.LibraryPath()
	if !strings.Contains(filepath.Base(got), "graphbit_alloc") {
		t.Fatalf("LibraryPath() = %q", got)
	}
	want := os.Getenv("GB_EXPECT_LIB")
	if want == "" {
		t.Fatal("GB_EXPECT_LIB is not set (test.sh sets it to the library it links)")
	}
	gotReal, err1 := filepath.EvalSymlinks(got)
	wantReal, err2 := filepath.EvalSymlinks(want)
	if err1 != nil || err2 != nil || gotReal != wantReal {
		t.Fatalf("loaded %q (%s), want %q (%s)", got, gotReal, want, wantReal)
	}
}

func TestVerify(t *testing.T) {
	if !gballoc.Verify() {
		t.Fatalf("Verify() = false; report: %s", gballoc.VerifyReport())
	}
	var report struct {
		Passed  bool   `json:"passed"`
		Backend string `json:"backend"`
		Checks  []struct {
			Name   string `json:"name"`
			Passed bool   `json:"passed"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(gballoc.VerifyReport(), &report); err != nil {
		t.Fatal(err)
	}
	if !report.Passed || report.Backend != gballoc.AllocatorName() || len(report.Checks) == 0 {
		t.Fatalf("report: %+v", report)
	}
	for _, c := range report.Checks {
		if !c.Passed {
			t.Errorf("check %q failed", c.Name)
		}
	}
	if len(gballoc.BackendStatsText()) < 20 {
		t.Fatal("BackendStatsText too short")
	}
}

func expectPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("%s on a freed Buffer did not panic", what)
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, "freed Buffer") {
			t.Fatalf("%s panicked with %q", what, msg)
		}
	}()
	f()
}

func TestAllocateWriteReadFree(t *testing.T) {
	b := mustNew(t, 1000)
	if b.Len() != 1000 || b.UsableSize() < 1000 || b.Freed() {
		t.Fatalf("Len %d UsableSize %d Freed %v", b.Len(), b.UsableSize(), b.Freed())
	}
	view := b.Bytes()
	if len(view) != 1000 || cap(view) != 1000 {
		t.Fatalf("len %d cap %d", len(view), cap(view))
	}
	for i := range view {
		view[i] = byte(i)
	}
	got := make([]byte, 1000)
	if n, err := b.ReadAt(got, 0); n != 1000 || err != nil {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	for i := range got {
		if got[i] != byte(i) {
			t.Fatalf("byte %d = %d", i, got[i])
		}
	}
	if n, err := b.WriteAt([]byte("graphbit"), 10); n != 8 || err != nil {
		t.Fatalf("WriteAt: %d, %v", n, err)
	}
	if string(b.Bytes()[10:18]) != "graphbit" {
		t.Fatalf("read back %q", b.Bytes()[10:18])
	}
	if n, err := b.WriteAt([]byte("xyz"), 998); n != 2 || err != io.ErrShortWrite {
		t.Fatalf("WriteAt past the end: %d, %v", n, err)
	}
	if n, err := b.ReadAt(got[:10], 995); n != 5 || err != io.EOF {
		t.Fatalf("ReadAt past the end: %d, %v", n, err)
	}
	if _, err := b.ReadAt(got, -1); !errors.Is(err, gballoc.ErrInvalidArgument) {
		t.Fatalf("ReadAt(-1): %v", err)
	}
	b.Free()
	if !b.Freed() || b.UsableSize() != 0 {
		t.Fatal("not freed")
	}
	b.Free() // a second free does nothing
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadAt(got, 0); err != gballoc.ErrFreed {
		t.Fatalf("ReadAt after Free: %v", err)
	}
	if _, err := b.WriteAt(got, 0); err != gballoc.ErrFreed {
		t.Fatalf("WriteAt after Free: %v", err)
	}
	expectPanic(t, "Bytes", func() { b.Bytes() })
	expectPanic(t, "Pointer", func() { b.Pointer() })

	empty := mustNew(t, 0)
	if len(empty.Bytes()) != 0 {
		t.Fatal("a 0-byte Buffer has bytes")
	}
	empty.Free()
}

func TestZeroed(t *testing.T) {
	for i := 0; i < 20; i++ {
		dirty := mustNew(t, 8192)
		for j := range dirty.Bytes() {
			dirty.Bytes()[j] = 0xa5
		}
		dirty.Free()
		zero := mustNew(t, 8192, gballoc.Zeroed())
		if !bytes.Equal(zero.Bytes(), make([]byte, 8192)) {
			t.Fatal("a Zeroed buffer is not zero")
		}
		zero.Free()
	}
}

func TestAligned(t *testing.T) {
	for _, alignment := range []int{64, 4096, 1 << 16} {
		b := mustNew(t, 1000, gballoc.Aligned(alignment), gballoc.Zeroed())
		if addr := uintptr(b.Pointer()); addr%uintptr(alignment) != 0 {
			t.Fatalf("address %#x is not a multiple of %d", addr, alignment)
		}
		if b.Alignment() != alignment || !bytes.Equal(b.Bytes(), make([]byte, 1000)) {
			t.Fatal("aligned buffer not zeroed")
		}
		b.Free()
	}
}

func TestErrors(t *testing.T) {
	half := int(^uint(0) / 2) // SIZE_MAX / 2 = PTRDIFF_MAX
	if half != math.MaxInt {
		t.Fatal("SIZE_MAX / 2 is not math.MaxInt")
	}
	for _, opts := range [][]gballoc.Option{nil, {gballoc.Zeroed()}, {gballoc.Aligned(64)}} {
		b, err := gballoc.New(half, opts...)
		if b != nil || !errors.Is(err, gballoc.ErrOutOfMemory) || !errors.Is(err, syscall.ENOMEM) ||
			errors.Is(err, gballoc.ErrInvalidArgument) {
			t.Fatalf("New(SIZE_MAX/2): %v, %v", b, err)
		}
		var ae *gballoc.AllocError
		if !errors.As(err, &ae) || ae.Size != half || !strings.Contains(err.Error(), "out of memory (ENOMEM)") {
			t.Fatalf("error: %#v %q", ae, err)
		}
	}
	for _, alignment := range []int{3, 48, -8} {
		_, err := gballoc.New(8, gballoc.Aligned(alignment))
		if !errors.Is(err, gballoc.ErrInvalidArgument) || !errors.Is(err, syscall.EINVAL) ||
			errors.Is(err, gballoc.ErrOutOfMemory) {
			t.Fatalf("Aligned(%d): %v", alignment, err)
		}
	}
	if _, err := gballoc.New(-1); !errors.Is(err, gballoc.ErrInvalidArgument) {
		t.Fatalf("New(-1): %v", err)
	}
	// A success right after a failure: no stale errno.
	mustNew(t, 16).Free()
}

func TestStatsFollowLargeBlock(t *testing.T) {
	const size = 64 * MiB
	before, err := gballoc.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if before.Allocated == gballoc.Unavailable {
		t.Fatal("Allocated is unavailable")
	}
	b := mustNew(t, size)
	view := b.Bytes()
	for i := 0; i < size; i += 4096 {
		view[i] = 1 // touch every page
	}
	during, err := gballoc.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// Allocated is live bytes, except on mimalloc: an upper bound that
	// freeing does not lower (include/graphbit_alloc.h).
	liveBytes := gballoc.AllocatorName() != "mimalloc"
	if during.Allocated < size {
		t.Fatalf("Allocated %d with a %d-byte block live", during.Allocated, size)
	}
	if grew := int64(during.Allocated) - int64(before.Allocated); liveBytes && grew < size*95/100 {
		t.Fatalf("Allocated grew by %d, not ~%d", grew, size)
	}
	if during.Resident != gballoc.Unavailable {
		if grew := int64(during.Resident) - int64(before.Resident); grew < size*9/10 {
			t.Fatalf("Resident grew by %d, not ~%d", grew, size)
		}
	}
	b.Free()
	after, _ := gballoc.Stats()
	if after.PeakResident < size {
		t.Fatalf("PeakResident %d", after.PeakResident)
	}
	if liveBytes && int64(after.Allocated)-int64(before.Allocated) > size/2 {
		t.Fatalf("Allocated did not fall after Free: %d -> %d", during.Allocated, after.Allocated)
	}
	if err := gballoc.Trim(); err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := gballoc.ThreadIdle(); err != nil {
		t.Fatal(err)
	}
	mustNew(t, 64).Free() // a hint only: allocating goes on
}

func TestOwns(t *testing.T) {
	b := mustNew(t, 100)
	defer b.Free()
	want := gballoc.AllocatorName() != "system"
	if gballoc.Owns(b.Pointer()) != want {
		t.Fatalf("Owns(buffer) = %v", !want)
	}
	goMemory := make([]byte, 100)
	if gballoc.Owns(unsafe.Pointer(&goMemory[0])) {
		t.Fatal("Owns(Go memory)")
	}
	c := cmem.Malloc(100)
	defer cmem.Free(c)
	if gballoc.Owns(c) {
		t.Fatal("Owns(C malloc)")
	}
	if gballoc.Owns(nil) {
		t.Fatal("Owns(nil)")
	}
}

func TestGoroutines(t *testing.T) {
	const workers, rounds = 8, 3000
	handoff := make(chan *gballoc.Buffer, 64)
	var wg, freers sync.WaitGroup
	errs := make(chan error, workers)
	// Buffers allocated on one goroutine are freed on another.
	freers.Add(2)
	for i := 0; i < 2; i++ {
		go func() {
			defer freers.Done()
			for b := range handoff {
				if b.Bytes()[0] != byte(b.Len()) {
					errs <- fmt.Errorf("handed-off buffer changed")
				}
				b.Free()
			}
		}()
	}
	for w := 1; w <= workers; w++ {
		wg.Add(1)
		go func(seed int) {
			defer wg.Done()
			var held []*gballoc.Buffer
			for i := 0; i < rounds; i++ {
				size := (seed*7919+i*104729)%20000 + 1
				b, err := gballoc.New(size)
				if err != nil {
					errs <- err
					return
				}
				view := b.Bytes()
				view[0], view[size-1] = byte(seed), byte(seed)
				held = append(held, b)
				if len(held) > 50 {
					old := held[0]
					held = held[1:]
					v := old.Bytes()
					if v[0] != byte(seed) || v[len(v)-1] != byte(seed) {
						errs <- fmt.Errorf("goroutine %d: buffer changed", seed)
						return
					}
					old.Free()
				}
				if i%10 == 0 {
					h, err := gballoc.New(size % 256)
					if err != nil {
						errs <- err
						return
					}
					if size%256 > 0 {
						h.Bytes()[0] = byte(h.Len())
					} else {
						h.Free()
						continue
					}
					handoff <- h
				}
			}
			for _, b := range held {
				b.Free()
			}
		}(w)
	}
	wg.Wait()
	close(handoff)
	freers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !gballoc.Verify() {
		t.Fatal("Verify() after the goroutines")
	}
}

// ReadAt and WriteAt racing Free: they see the block or ErrFreed, never freed memory.
func TestFreeWhileReading(t *testing.T) {
	for round := 0; round < 200; round++ {
		b := mustNew(t, 4096)
		if _, err := b.WriteAt(bytes.Repeat([]byte{7}, 4096), 0); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for r := 0; r < 3; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := make([]byte, 4096)
				for {
					n, err := b.ReadAt(p, 0)
					if err == gballoc.ErrFreed {
						return
					}
					if err != nil || n != 4096 || p[0] != 7 || p[4095] != 7 {
						t.Errorf("ReadAt: %d %v %d", n, err, p[0])
						return
					}
				}
			}()
		}
		runtime.Gosched()
		b.Free()
		wg.Wait()
	}
}

// The finalizer reports a Buffer dropped without Free, and frees it when no
// slice of it was handed out.
func TestLeakFinalizer(t *testing.T) {
	got := make(chan gballoc.Leak, 4)
	previous := gballoc.SetLeakHandler(func(l gballoc.Leak) { got <- l })
	defer gballoc.SetLeakHandler(previous)
	defer gballoc.SetRecordCallers(gballoc.SetRecordCallers(true))
	func() {
		if _, err := gballoc.New(12345); err != nil { // never freed, never viewed
			t.Fatal(err)
		}
		b, err := gballoc.New(23456) // never freed, viewed
		if err != nil {
			t.Fatal(err)
		}
		b.Bytes()[0] = 1
	}()
	seen := map[int]gballoc.Leak{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		runtime.GC()
		select {
		case l := <-got:
			seen[l.Size] = l
		case <-time.After(20 * time.Millisecond):
		}
	}
	quiet, viewed := seen[12345], seen[23456]
	if quiet.Size == 0 || viewed.Size == 0 {
		t.Fatalf("leaks reported: %v", seen)
	}
	if !quiet.Freed || viewed.Freed {
		t.Fatalf("Freed: unviewed %v, viewed %v", quiet.Freed, viewed.Freed)
	}
	if !strings.Contains(quiet.Caller, "gballoc_test.go:") || !strings.Contains(viewed.String(), "leaked") {
		t.Fatalf("report: %q / %q", quiet.Caller, viewed)
	}
}

// The library the tests link is built without profiling: each call answers
// ENOTSUP, and no file is written.
func TestProfileNeedsTheProfilingBuild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.pb.gz")
	if err := gballoc.ProfileStart(0); !errors.Is(err, syscall.ENOTSUP) {
		t.Fatalf("ProfileStart: %v, want ENOTSUP", err)
	}
	if err := gballoc.ProfileStop(); !errors.Is(err, syscall.ENOTSUP) {
		t.Fatalf("ProfileStop: %v, want ENOTSUP", err)
	}
	for _, peak := range []bool{false, true} {
		if err := gballoc.ProfileDump(path, peak); !errors.Is(err, syscall.ENOTSUP) {
			t.Fatalf("ProfileDump(peak %v): %v, want ENOTSUP", peak, err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s exists after ENOTSUP", path)
	}
}
