package gballoc

/*
#include <string.h>
#include "graphbit_alloc.h"
*/
import "C"

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// ErrHeapDestroyed: the Heap, or the Heap of a Buffer, was destroyed.
// errors.Is(ErrHeapDestroyed, ErrFreed) holds: a Buffer of a destroyed Heap
// is freed.
var ErrHeapDestroyed error = heapDestroyedError{}

type heapDestroyedError struct{}

func (heapDestroyedError) Error() string        { return "gballoc: heap already destroyed" }
func (heapDestroyedError) Is(target error) bool { return target == ErrFreed }

// Heap is a gb_heap (docs/heaps.md): Buffers allocated in it with Alloc,
// capped at a limit of usable bytes, all freed at once by Destroy:
//
//	h, err := gballoc.NewHeap(1 << 20)
//	if err != nil { ... }
//	defer h.Destroy()
//	b, err := h.Alloc(4096) // errors.Is(err, gballoc.ErrOutOfMemory) past the limit
//
// A Buffer of a Heap may be freed on its own. After Destroy every Buffer of
// the Heap is freed: ReadAt and WriteAt return ErrHeapDestroyed, Bytes and
// Pointer panic, Free does nothing; none of them calls into C with the
// block's address. As with Buffer.Free, a slice from Bytes (or a pointer
// from Pointer) kept past Destroy points at freed memory: Destroy only when
// no goroutine still uses one. A second Destroy does nothing.
//
// All methods, and those of its Buffers, are safe to call from several
// goroutines: Destroy waits for the Allocs, Stats and Buffer calls in
// flight. A Heap must not be copied.
type Heap struct {
	mu        sync.RWMutex // Destroy holds it to write; Alloc, Stats and its Buffers' C calls to read
	h         *C.gb_heap_t // nil once destroyed
	destroyed atomic.Bool  // h == nil, readable without mu
	handedOut atomic.Int64 // live Buffers whose Bytes or Pointer handed the memory out
	caller    uintptr      // where NewHeap was called (SetRecordCallers)
}

// HeapStats is gb_heap_stats: usable bytes (what the limit counts) and blocks.
type HeapStats struct {
	LimitBytes         uint64 // 0: no limit
	AllocatedBytes     uint64 // usable bytes of the live blocks
	PeakAllocatedBytes uint64 // the most AllocatedBytes has been
	Blocks             uint64 // live blocks
	Refused            uint64 // requests the limit (or memory) refused
}

// NewHeap makes a heap whose live blocks may take at most limit usable
// bytes (0: no limit). The error is an *AllocError (errors.Is
// ErrOutOfMemory) when the library cannot make another heap, and wraps
// ErrInvalidArgument for a limit above SIZE_MAX (on 32-bit systems).
func NewHeap(limit uint64) (*Heap, error) {
	if uint64(C.size_t(limit)) != limit {
		return nil, fmt.Errorf("gballoc: NewHeap(%d): above SIZE_MAX: %w", limit, ErrInvalidArgument)
	}
	p, err := C.gb_heap_new(C.size_t(limit))
	if p == nil {
		size := math.MaxInt
		if limit < math.MaxInt {
			size = int(limit)
		}
		return nil, allocError("gb_heap_new", size, 0, err)
	}
	h := &Heap{h: p}
	if recordCallers.Load() {
		var pc [1]uintptr
		if runtime.Callers(2, pc[:]) == 1 {
			h.caller = pc[0]
		}
	}
	runtime.SetFinalizer(h, (*Heap).finalize)
	return h, nil
}

// Alloc allocates size bytes in the heap (uninitialised unless Zeroed;
// Aligned as New). The error is an *AllocError that matches ErrOutOfMemory
// when the limit (or memory) refuses it, which changes nothing: the heap
// stays usable; ErrInvalidArgument for a negative size or a bad alignment;
// ErrHeapDestroyed after Destroy.
func (h *Heap) Alloc(size int, opts ...Option) (*Buffer, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.h == nil {
		return nil, ErrHeapDestroyed
	}
	var p unsafe.Pointer
	var err error
	switch {
	case o.alignment != 0:
		if size < 0 || o.alignment < 0 {
			return nil, &AllocError{Op: "gb_heap_aligned_alloc", Size: size, Alignment: o.alignment, Errno: einval}
		}
		p, err = C.gb_heap_aligned_alloc(h.h, C.size_t(o.alignment), C.size_t(size))
		if p == nil {
			return nil, allocError("gb_heap_aligned_alloc", size, o.alignment, err)
		}
		if o.zeroed {
			C.memset(p, 0, C.size_t(size))
		}
	case size < 0:
		return nil, &AllocError{Op: "gb_heap_alloc", Size: size, Errno: einval}
	case o.zeroed:
		p, err = C.gb_heap_calloc(h.h, 1, C.size_t(size))
		if p == nil {
			return nil, allocError("gb_heap_calloc", size, 0, err)
		}
	default:
		p, err = C.gb_heap_alloc(h.h, C.size_t(size))
		if p == nil {
			return nil, allocError("gb_heap_alloc", size, 0, err)
		}
	}
	return newBuffer(p, size, o.alignment, h), nil
}

// Stats returns the heap's counters (cheap: a few atomic loads);
// ErrHeapDestroyed after Destroy.
func (h *Heap) Stats() (HeapStats, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.h == nil {
		return HeapStats{}, ErrHeapDestroyed
	}
	var raw C.gb_heap_stats_t
	raw.size = C.size_t(unsafe.Sizeof(raw))
	if code := C.gb_heap_stats(h.h, &raw); code != 0 {
		return HeapStats{}, fmt.Errorf("gballoc: gb_heap_stats: %w", syscall.Errno(code))
	}
	return HeapStats{
		LimitBytes:         uint64(raw.limit_bytes),
		AllocatedBytes:     uint64(raw.allocated_bytes),
		PeakAllocatedBytes: uint64(raw.peak_allocated_bytes),
		Blocks:             uint64(raw.blocks),
		Refused:            uint64(raw.refused),
	}, nil
}

// Destroyed reports whether Destroy was called.
func (h *Heap) Destroyed() bool { return h.destroyed.Load() }

// Destroy frees every Buffer of the heap at once (gb_heap_destroy) and
// gives its memory back to the OS; a second call does nothing. It waits for
// the heap's calls in flight (see Heap).
func (h *Heap) Destroy() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h == nil {
		return
	}
	h.destroyed.Store(true)
	C.gb_heap_destroy(h.h)
	h.h = nil
	runtime.SetFinalizer(h, nil)
}

// Close is Destroy, for io.Closer.
func (h *Heap) Close() error {
	h.Destroy()
	return nil
}

// finalize: the Heap and all its Buffers are unreachable (each Buffer holds
// its Heap, and the Buffers' finalizers ran first).
func (h *Heap) finalize() {
	if h.h == nil {
		return
	}
	leak := Leak{Heap: true, Caller: "NewHeap (gballoc.SetRecordCallers(true) tells where)"}
	var raw C.gb_heap_stats_t
	raw.size = C.size_t(unsafe.Sizeof(raw))
	if C.gb_heap_stats(h.h, &raw) == 0 {
		leak.Size = int(raw.allocated_bytes)
	}
	if h.caller != 0 {
		frame, _ := runtime.CallersFrames([]uintptr{h.caller}).Next()
		leak.Caller = fmt.Sprintf("%s:%d", frame.File, frame.Line)
	}
	if h.handedOut.Load() == 0 {
		h.destroyed.Store(true)
		C.gb_heap_destroy(h.h)
		h.h = nil
		leak.Freed = true
	}
	leakHandler.Load().(func(Leak))(leak)
}

// enter returns the block's address, or the error saying why there is none;
// for a Buffer of a Heap it read-locks the heap (so Destroy waits) until
// leave. The caller holds b.mu.
func (b *Buffer) enter() (unsafe.Pointer, error) {
	if b.ptr == nil {
		return nil, ErrFreed
	}
	if b.heap != nil {
		b.heap.mu.RLock()
		if b.heap.h == nil {
			b.heap.mu.RUnlock()
			return nil, ErrHeapDestroyed
		}
	}
	return b.ptr, nil
}

// leave ends what a successful enter began.
func (b *Buffer) leave() {
	if b.heap != nil {
		b.heap.mu.RUnlock()
	}
}

// heapDestroyed reports whether the Buffer's Heap was destroyed.
func (b *Buffer) heapDestroyed() bool { return b.heap != nil && b.heap.destroyed.Load() }

// handOut records that Bytes or Pointer handed the memory out.
func (b *Buffer) handOut() {
	if !b.viewed.Swap(true) && b.heap != nil {
		b.heap.handedOut.Add(1)
	}
}
