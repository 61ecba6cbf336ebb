package gballoc_test

import (
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gballoc "github.com/graphbit/graphbit-alloc/bindings/go"
)

func mustHeap(t testing.TB, limit uint64) *gballoc.Heap {
	t.Helper()
	h, err := gballoc.NewHeap(limit)
	if err != nil {
		t.Fatalf("NewHeap(%d): %v", limit, err)
	}
	return h
}

func heapStats(t testing.TB, h *gballoc.Heap) gballoc.HeapStats {
	t.Helper()
	s, err := h.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return s
}

// The limit refuses with ErrOutOfMemory, changes nothing, and the heap stays usable.
func TestHeapLimit(t *testing.T) {
	h := mustHeap(t, 64*1024)
	defer h.Destroy()
	var kept []*gballoc.Buffer
	var err error
	for len(kept) < 1000 {
		var b *gballoc.Buffer
		if b, err = h.Alloc(4000); err != nil {
			break
		}
		kept = append(kept, b)
	}
	var ae *gballoc.AllocError
	if !errors.Is(err, gballoc.ErrOutOfMemory) || !errors.Is(err, syscall.ENOMEM) || !errors.As(err, &ae) ||
		ae.Op != "gb_heap_alloc" {
		t.Fatalf("past the limit: %v", err)
	}
	s := heapStats(t, h)
	usable := 0
	for _, b := range kept {
		usable += b.UsableSize()
	}
	if s.LimitBytes != 64*1024 || s.AllocatedBytes > 64*1024 || s.AllocatedBytes != uint64(usable) ||
		s.Blocks != uint64(len(kept)) || s.Refused != 1 || s.PeakAllocatedBytes < s.AllocatedBytes {
		t.Fatalf("stats %+v with %d blocks of %d usable bytes", s, len(kept), usable)
	}
	if _, err := h.Alloc(MiB, gballoc.Zeroed()); !errors.Is(err, gballoc.ErrOutOfMemory) {
		t.Fatalf("zeroed past the limit: %v", err)
	}
	if _, err := h.Alloc(MiB, gballoc.Aligned(4096)); !errors.Is(err, gballoc.ErrOutOfMemory) {
		t.Fatalf("aligned past the limit: %v", err)
	}
	if after := heapStats(t, h); after.AllocatedBytes != s.AllocatedBytes || after.Refused != 3 {
		t.Fatalf("a refusal changed the heap: %+v, then %+v", s, after)
	}
	kept[len(kept)-1].Free()
	b, err := h.Alloc(4000)
	if err != nil {
		t.Fatalf("after a Free, the heap refuses: %v", err)
	}
	if _, err := b.WriteAt([]byte("usable"), 0); err != nil {
		t.Fatal(err)
	}
}

// After Destroy every Buffer of the heap is dead; a second Destroy does nothing.
func TestHeapDestroy(t *testing.T) {
	h := mustHeap(t, 0)
	plain, err := h.Alloc(100)
	if err != nil {
		t.Fatal(err)
	}
	zero, err := h.Alloc(5000, gballoc.Zeroed())
	if err != nil {
		t.Fatal(err)
	}
	aligned, err := h.Alloc(1000, gballoc.Aligned(4096), gballoc.Zeroed())
	if err != nil {
		t.Fatal(err)
	}
	if uintptr(aligned.Pointer())%4096 != 0 || !allZero(zero.Bytes()) || !allZero(aligned.Bytes()) {
		t.Fatal("zeroed or aligned heap buffers are not")
	}
	early, err := h.Alloc(64)
	if err != nil {
		t.Fatal(err)
	}
	early.Free() // on its own, before Destroy
	if s := heapStats(t, h); s.Blocks != 3 {
		t.Fatalf("blocks %d after one of four was freed", s.Blocks)
	}
	h.Destroy()
	if !h.Destroyed() {
		t.Fatal("Destroyed() false after Destroy")
	}
	for _, b := range []*gballoc.Buffer{plain, zero, aligned} {
		if !b.Freed() || b.UsableSize() != 0 {
			t.Fatalf("a Buffer of a destroyed heap: Freed %v, UsableSize %d", b.Freed(), b.UsableSize())
		}
		if _, err := b.ReadAt(make([]byte, 1), 0); err != gballoc.ErrHeapDestroyed || !errors.Is(err, gballoc.ErrFreed) {
			t.Fatalf("ReadAt: %v", err)
		}
		if _, err := b.WriteAt([]byte{1}, 0); err != gballoc.ErrHeapDestroyed {
			t.Fatalf("WriteAt: %v", err)
		}
		for name, use := range map[string]func(){"Bytes": func() { b.Bytes() }, "Pointer": func() { b.Pointer() }} {
			func() {
				defer func() {
					if r := recover(); r == nil || !strings.Contains(r.(string), "destroyed Heap") {
						t.Fatalf("%s on a Buffer of a destroyed heap: panic %v", name, r)
					}
				}()
				use()
			}()
		}
		b.Free() // does nothing
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	h.Destroy() // does nothing
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Alloc(8); err != gballoc.ErrHeapDestroyed {
		t.Fatalf("Alloc after Destroy: %v", err)
	}
	if _, err := h.Stats(); err != gballoc.ErrHeapDestroyed {
		t.Fatalf("Stats after Destroy: %v", err)
	}
	// The Buffers' finalizers must not free them again, nor report them:
	// TestMain fails on any leak report.
	plain, zero, aligned = nil, nil, nil
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
}

func allZero(p []byte) bool {
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}

// Bad sizes and alignments are ErrInvalidArgument and reach no C call that
// could cut them; SIZE_MAX is a limit (as good as none).
func TestHeapBadArguments(t *testing.T) {
	h := mustHeap(t, math.MaxUint64)
	defer h.Destroy()
	for _, tc := range []struct {
		size int
		opts []gballoc.Option
	}{
		{-1, nil},
		{-1, []gballoc.Option{gballoc.Zeroed()}},
		{-1, []gballoc.Option{gballoc.Aligned(64)}},
		{8, []gballoc.Option{gballoc.Aligned(3)}},
		{8, []gballoc.Option{gballoc.Aligned(-8)}},
	} {
		if b, err := h.Alloc(tc.size, tc.opts...); !errors.Is(err, gballoc.ErrInvalidArgument) || b != nil {
			t.Fatalf("Alloc(%d, %d options): %v, %v", tc.size, len(tc.opts), b, err)
		}
	}
	if _, err := h.Alloc(math.MaxInt); !errors.Is(err, gballoc.ErrOutOfMemory) {
		t.Fatalf("Alloc(MaxInt): %v", err)
	}
	if s := heapStats(t, h); s.Blocks != 0 || s.AllocatedBytes != 0 {
		t.Fatalf("stats after refusals: %+v", s)
	}
}

// Goroutines allocate, write, read and free in one heap while another
// destroys it: each call succeeds or answers ErrHeapDestroyed (run under
// -race by test.sh).
func TestHeapGoroutines(t *testing.T) {
	for round := 0; round < 20; round++ {
		h := mustHeap(t, 0)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				var held []*gballoc.Buffer
				for i := 0; i < 200; i++ {
					b, err := h.Alloc(16 + (g*131+i*17)%4000)
					if err != nil {
						if err != gballoc.ErrHeapDestroyed {
							t.Errorf("Alloc: %v", err)
						}
						break
					}
					held = append(held, b)
					want := []byte{byte(g), byte(i)}
					if _, err := b.WriteAt(want, 0); err != nil && err != gballoc.ErrHeapDestroyed {
						t.Errorf("WriteAt: %v", err)
					}
					got := make([]byte, 2)
					if _, err := b.ReadAt(got, 0); err == nil && string(got) != string(want) {
						t.Errorf("read %v, wrote %v", got, want)
					} else if err != nil && err != gballoc.ErrHeapDestroyed && err != io.EOF {
						t.Errorf("ReadAt: %v", err)
					}
					if i%3 == 0 {
						held[0].Free()
						held = held[1:]
					}
				}
				for _, b := range held {
					b.Free()
				}
			}(g)
		}
		close(start)
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		h.Destroy()
		wg.Wait()
	}
}

// A Heap dropped without Destroy is destroyed by its finalizer and reported,
// unless a Buffer of it handed its memory out.
func TestHeapLeakFinalizer(t *testing.T) {
	got := make(chan gballoc.Leak, 8)
	previous := gballoc.SetLeakHandler(func(l gballoc.Leak) { got <- l })
	defer gballoc.SetLeakHandler(previous)
	func() {
		quiet := mustHeap(t, 0)
		if _, err := quiet.Alloc(3000); err != nil { // never freed, never viewed
			t.Fatal(err)
		}
		viewed := mustHeap(t, 0)
		b, err := viewed.Alloc(5000)
		if err != nil {
			t.Fatal(err)
		}
		b.Bytes()[0] = 1
	}()
	var heaps []gballoc.Leak
	deadline := time.Now().Add(10 * time.Second)
	for len(heaps) < 2 && time.Now().Before(deadline) {
		runtime.GC()
		select {
		case l := <-got:
			if l.Heap {
				heaps = append(heaps, l)
			}
		case <-time.After(20 * time.Millisecond):
		}
	}
	if len(heaps) != 2 {
		t.Fatalf("heap leaks reported: %v", heaps)
	}
	destroyed, kept := heaps[0], heaps[1]
	if !destroyed.Freed {
		destroyed, kept = kept, destroyed
	}
	// The quiet heap's buffer was freed by its own finalizer first (0 bytes
	// left); the viewed one stays, with its 5000 bytes (or more, usable).
	if !destroyed.Freed || kept.Freed || destroyed.Size != 0 || kept.Size < 5000 ||
		!strings.Contains(destroyed.String(), "destroyed by its finalizer") {
		t.Fatalf("heap leaks: %v / %v", destroyed, kept)
	}
}
