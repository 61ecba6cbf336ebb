package gballoc

/*
#include <string.h>
#include "graphbit_alloc.h"
*/
import "C"

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Buffer is a block of graphbit-alloc memory of Len bytes, given back by Free
// (or Close). Bytes is a []byte over the block itself; ReadAt and WriteAt
// copy, and are safe to call while another goroutine frees the Buffer: they
// return ErrFreed afterwards. A Buffer must not be copied.
//
// The slice from Bytes is C memory, valid until Free: like a slice from
// syscall.Mmap after Munmap, a slice kept past Free points at freed memory,
// and Go cannot revoke it. Free only when no goroutine still uses it; code
// that cannot promise that should use ReadAt and WriteAt.
type Buffer struct {
	mu        sync.RWMutex // Free holds it to write; ReadAt, WriteAt, Bytes to read
	ptr       unsafe.Pointer
	size      int
	alignment int
	viewed    atomic.Bool // Bytes or Pointer handed the memory out
	caller    uintptr     // where New was called, for leak reports (SetRecordCallers)
	heap      *Heap       // the Heap it was allocated in, or nil (heap.go)
}

// Option changes how New allocates.
type Option func(*options)

type options struct {
	zeroed    bool
	alignment int
}

// Zeroed makes every byte of the new block zero.
func Zeroed() Option { return func(o *options) { o.zeroed = true } }

// Aligned makes the block's address a multiple of alignment, a power of two.
func Aligned(alignment int) Option { return func(o *options) { o.alignment = alignment } }

// New allocates size bytes (uninitialised unless Zeroed). The error is an
// *AllocError that matches ErrOutOfMemory or ErrInvalidArgument.
func New(size int, opts ...Option) (*Buffer, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if size < 0 {
		return nil, &AllocError{Op: "gb_alloc", Size: size, Alignment: o.alignment, Errno: einval}
	}
	var p unsafe.Pointer
	var err error
	switch {
	case o.alignment != 0:
		if o.alignment < 0 {
			return nil, &AllocError{Op: "gb_aligned_alloc", Size: size, Alignment: o.alignment, Errno: einval}
		}
		p, err = C.gb_aligned_alloc(C.size_t(o.alignment), C.size_t(size))
		if p == nil {
			return nil, allocError("gb_aligned_alloc", size, o.alignment, err)
		}
		if o.zeroed {
			C.memset(p, 0, C.size_t(size))
		}
	case o.zeroed:
		p, err = C.gb_calloc(1, C.size_t(size))
		if p == nil {
			return nil, allocError("gb_calloc", size, 0, err)
		}
	default:
		p, err = C.gb_alloc(C.size_t(size))
		if p == nil {
			return nil, allocError("gb_alloc", size, 0, err)
		}
	}
	return newBuffer(p, size, o.alignment, nil), nil
}

// newBuffer wraps a new block; it records the caller of New (or Heap.Alloc).
func newBuffer(p unsafe.Pointer, size, alignment int, heap *Heap) *Buffer {
	b := &Buffer{ptr: p, size: size, alignment: alignment, heap: heap}
	if recordCallers.Load() {
		var pc [1]uintptr
		if runtime.Callers(3, pc[:]) == 1 {
			b.caller = pc[0]
		}
	}
	runtime.SetFinalizer(b, (*Buffer).finalize)
	return b
}

// Len is the size asked for.
func (b *Buffer) Len() int { return b.size }

// Alignment is the alignment asked for (0 for malloc's).
func (b *Buffer) Alignment() int { return b.alignment }

// Freed reports whether Free was called.
func (b *Buffer) Freed() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.ptr == nil || b.heapDestroyed()
}

// live returns the block's address; the caller holds b.mu.
func (b *Buffer) live(what string) unsafe.Pointer {
	if b.ptr == nil {
		panic(fmt.Sprintf("gballoc: %s on a freed Buffer (%d bytes): %v", what, b.size, ErrFreed))
	}
	if b.heapDestroyed() {
		panic(fmt.Sprintf("gballoc: %s on a Buffer (%d bytes) of a destroyed Heap: %v", what, b.size, ErrHeapDestroyed))
	}
	return b.ptr
}

// Bytes is the block as a slice, without a copy: len and cap are Len. It is
// valid until Free. It panics (with ErrFreed's text) on a freed Buffer.
func (b *Buffer) Bytes() []byte {
	b.mu.RLock()
	defer b.mu.RUnlock()
	p := b.live("Bytes")
	b.handOut()
	return unsafe.Slice((*byte)(p), b.size)
}

// Pointer is the block's address, to pass to C; valid until Free. It panics
// on a freed Buffer.
func (b *Buffer) Pointer() unsafe.Pointer {
	b.mu.RLock()
	defer b.mu.RUnlock()
	p := b.live("Pointer")
	b.handOut()
	return p
}

// UsableSize is how many bytes the block really has (at least Len); 0 once freed.
func (b *Buffer) UsableSize() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	p, err := b.enter()
	if err != nil {
		return 0
	}
	defer b.leave()
	return int(C.gb_usable_size(p))
}

// ReadAt copies the block's bytes from off into p (io.ReaderAt): io.EOF when
// fewer than len(p) remain; ErrFreed once freed.
func (b *Buffer) ReadAt(p []byte, off int64) (int, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if _, err := b.enter(); err != nil {
		return 0, err
	}
	defer b.leave()
	if off < 0 {
		return 0, fmt.Errorf("gballoc: ReadAt: negative offset %d: %w", off, ErrInvalidArgument)
	}
	if off >= int64(b.size) {
		return 0, io.EOF
	}
	n := copy(p, unsafe.Slice((*byte)(b.ptr), b.size)[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt copies p into the block at off (io.WriterAt), as much as fits:
// io.ErrShortWrite when not all of it; ErrFreed once freed.
func (b *Buffer) WriteAt(p []byte, off int64) (int, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if _, err := b.enter(); err != nil {
		return 0, err
	}
	defer b.leave()
	if off < 0 {
		return 0, fmt.Errorf("gballoc: WriteAt: negative offset %d: %w", off, ErrInvalidArgument)
	}
	if off >= int64(b.size) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.ErrShortWrite
	}
	n := copy(unsafe.Slice((*byte)(b.ptr), b.size)[off:], p)
	if n < len(p) {
		return n, io.ErrShortWrite
	}
	return n, nil
}

// Free gives the block back (sized, so the backend need not look it up). A
// second call does nothing, and so does a call on a Buffer of a destroyed
// Heap (its memory went with the heap). It waits for ReadAt and WriteAt
// calls in flight.
func (b *Buffer) Free() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ptr == nil {
		return
	}
	if _, err := b.enter(); err == nil {
		if b.heap != nil && b.viewed.Load() {
			b.heap.handedOut.Add(-1)
		}
		b.release()
		b.leave()
	}
	b.ptr = nil
	runtime.SetFinalizer(b, nil)
}

// Close is Free, for io.Closer and defer.
func (b *Buffer) Close() error {
	b.Free()
	return nil
}

// release frees the block; the caller holds b.mu (or is the finalizer).
func (b *Buffer) release() {
	if b.alignment != 0 {
		C.gb_free_aligned_sized(b.ptr, C.size_t(b.alignment), C.size_t(b.size))
	} else {
		C.gb_free_sized(b.ptr, C.size_t(b.size))
	}
	b.ptr = nil
}

// Leak is a Buffer that became unreachable without Free, as the finalizer
// found it.
type Leak struct {
	Size      int
	Alignment int
	Caller    string // file:line of the call to New, with SetRecordCallers(true)
	// Freed: the finalizer gave the block back, because it was never handed
	// out (no Bytes or Pointer). Otherwise a slice of it may still be in use,
	// so it stays allocated: leaked.
	Freed bool
	// Heap: this is a Heap dropped without Destroy (Size: its allocated
	// bytes; Freed: its finalizer destroyed it, because no Buffer of it
	// handed its memory out).
	Heap bool
}

func (l Leak) String() string {
	fate := "leaked: Bytes or Pointer handed it out, so it stays allocated"
	if l.Freed {
		fate = "freed by its finalizer"
	}
	if l.Heap {
		if l.Freed {
			fate = "destroyed by its finalizer"
		} else {
			fate = "leaked: a Buffer of it handed its memory out, so it stays"
		}
		return fmt.Sprintf("gballoc: a Heap holding %d bytes from %s was never destroyed (%s)", l.Size, l.Caller, fate)
	}
	return fmt.Sprintf("gballoc: a Buffer of %d bytes from %s was never freed (%s)", l.Size, l.Caller, fate)
}

var (
	leakHandler   atomic.Value // of func(Leak)
	recordCallers atomic.Bool
)

// SetRecordCallers makes New record where it was called, for the leak
// reports (it costs about as much as the allocation); off by default. It
// returns the previous setting.
func SetRecordCallers(on bool) (previous bool) { return recordCallers.Swap(on) }

func init() {
	leakHandler.Store(func(l Leak) { fmt.Fprintln(os.Stderr, l.String()) })
}

// SetLeakHandler sets what the finalizer of a Buffer dropped without Free
// calls (it runs on the finalizer goroutine); the default prints the Leak to
// standard error. It returns the previous handler. Tests use it to fail on
// leaks.
func SetLeakHandler(h func(Leak)) (previous func(Leak)) {
	if h == nil {
		h = func(Leak) {}
	}
	return leakHandler.Swap(h).(func(Leak))
}

func (b *Buffer) finalize() {
	if b.ptr == nil || b.heapDestroyed() {
		return // a destroyed Heap took the memory
	}
	leak := Leak{Size: b.size, Alignment: b.alignment, Caller: "New (gballoc.SetRecordCallers(true) tells where)"}
	if b.caller != 0 {
		frame, _ := runtime.CallersFrames([]uintptr{b.caller}).Next()
		leak.Caller = fmt.Sprintf("%s:%d", frame.File, frame.Line)
	}
	if !b.viewed.Load() {
		if _, err := b.enter(); err == nil {
			b.release()
			b.leave()
			leak.Freed = true
		}
	}
	leakHandler.Load().(func(Leak))(leak)
}
