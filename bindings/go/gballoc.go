// Package gballoc is graphbit-alloc from Go: blocks of a fast allocator
// (jemalloc on Linux) as byte slices that the Go garbage collector never
// owns, and the library's statistics, verification and trimming.
//
// The module is github.com/graphbit/graphbit-alloc/bindings/go; its package
// is gballoc (import it under that name). It links libgraphbit_alloc with
// cgo, the initial-exec build meant for programs that link it at start-up,
// and finds the header and the library through pkg-config's graphbit-alloc
// module, which `cmake --install` writes (lib/pkgconfig/graphbit-alloc.pc):
//
//	PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig go build
//
// (with -Wl,-rpath in CGO_LDFLAGS, or LD_LIBRARY_PATH, where $PREFIX/lib is
// not on the loader's path). Nothing outside the module's files is read, so
// `go mod vendor` works. bindings/go/test.sh writes a .pc for
// $GRAPHBIT_ALLOC_LIB. LibraryPath tells which file the program got.
//
// Memory from this package is C memory: Buffer.Free gives it back, and the
// garbage collector neither scans nor frees it. A finalizer on each Buffer
// is only a safety net that reports a Buffer dropped without Free (see
// SetLeakHandler).
//
// Errors: allocation failures are *AllocError values that match
// ErrOutOfMemory (ENOMEM) or ErrInvalidArgument (EINVAL) with errors.Is, and
// unwrap to the syscall.Errno.
package gballoc

/*
#cgo pkg-config: graphbit-alloc
#include <stdlib.h>
#include <string.h>
#include "graphbit_alloc.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"
)

var (
	// ErrOutOfMemory: the library could not have the memory (ENOMEM), also for
	// sizes above PTRDIFF_MAX.
	ErrOutOfMemory = errors.New("gballoc: out of memory")
	// ErrInvalidArgument: a bad argument (EINVAL): an alignment that is not a
	// power of two, a negative size.
	ErrInvalidArgument = errors.New("gballoc: invalid argument")
	// ErrFreed: the Buffer was freed.
	ErrFreed = errors.New("gballoc: buffer already freed")
)

// AllocError is a failed allocation: which call, with which size and
// alignment (0 for none), and the errno the library set.
type AllocError struct {
	Op        string
	Size      int
	Alignment int
	Errno     syscall.Errno
}

func (e *AllocError) Error() string {
	what := "out of memory"
	if e.Errno == syscall.EINVAL {
		what = "invalid argument"
	}
	if e.Alignment != 0 {
		return fmt.Sprintf("gballoc: %s(%d, %d): %s (%s)", e.Op, e.Alignment, e.Size, what, errnoName(e.Errno))
	}
	return fmt.Sprintf("gballoc: %s(%d): %s (%s)", e.Op, e.Size, what, errnoName(e.Errno))
}

// Is matches ErrOutOfMemory for ENOMEM (and any errno other than EINVAL) and
// ErrInvalidArgument for EINVAL.
func (e *AllocError) Is(target error) bool {
	switch target {
	case ErrInvalidArgument:
		return e.Errno == syscall.EINVAL
	case ErrOutOfMemory:
		return e.Errno != syscall.EINVAL
	}
	return false
}

// Unwrap returns the errno, so errors.Is(err, syscall.ENOMEM) holds too.
func (e *AllocError) Unwrap() error { return e.Errno }

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.ENOMEM:
		return "ENOMEM"
	case syscall.EINVAL:
		return "EINVAL"
	}
	return fmt.Sprintf("errno %d", int(e))
}

const einval = syscall.EINVAL

// allocError turns the errno of a NULL result into an *AllocError; a NULL
// without an errno is taken as ENOMEM.
func allocError(op string, size, alignment int, err error) error {
	errno, ok := err.(syscall.Errno)
	if !ok || errno == 0 {
		errno = syscall.ENOMEM
	}
	return &AllocError{Op: op, Size: size, Alignment: alignment, Errno: errno}
}

// Unavailable is the value of a MemStats field the backend does not keep.
const Unavailable = ^uint64(0)

// MemStats is gb_stats in bytes (see include/graphbit_alloc.h); a field the
// backend does not keep is Unavailable.
type MemStats struct {
	Allocated    uint64 // bytes in live allocations
	Active       uint64 // bytes in pages that hold live allocations
	Resident     uint64 // bytes of the backend's memory resident in RAM
	Mapped       uint64 // bytes the backend has mapped from the OS
	Retained     uint64 // bytes kept mapped but unused
	PeakResident uint64 // the process's peak resident set (all memory)
}

// Stats returns the library's memory statistics, fresh (it costs more than an
// allocation: for monitoring, not hot paths).
func Stats() (MemStats, error) {
	var raw C.gb_stats_t
	raw.size = C.size_t(unsafe.Sizeof(raw))
	if code := C.gb_stats(&raw); code != 0 {
		return MemStats{}, fmt.Errorf("gballoc: gb_stats: %w", syscall.Errno(code))
	}
	return MemStats{
		Allocated:    uint64(raw.allocated),
		Active:       uint64(raw.active),
		Resident:     uint64(raw.resident),
		Mapped:       uint64(raw.mapped),
		Retained:     uint64(raw.retained),
		PeakResident: uint64(raw.peak_resident),
	}, nil
}

// Verify checks, with real allocations, that the backend serves the library
// and that the host's malloc was not replaced.
func Verify() bool { return bool(C.gb_verify()) }

// VerifyReport is gb_verify_report: the checks and their evidence, as JSON.
func VerifyReport() []byte {
	return text(func(buf *C.char, n C.size_t) C.size_t { return C.gb_verify_report(buf, n) })
}

// BackendStatsText is the backend's own statistics report.
func BackendStatsText() string {
	return string(text(func(buf *C.char, n C.size_t) C.size_t { return C.gb_backend_stats_text(buf, n) }))
}

// text reads an snprintf-style report: ask for the length, fill, again if it grew.
func text(fill func(*C.char, C.size_t) C.size_t) []byte {
	for {
		needed := int(fill(nil, 0))
		buf := make([]byte, needed+1)
		got := int(fill((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
		if got <= needed {
			return buf[:got]
		}
	}
}

// Trim gives memory the backend holds but does not use back to the OS now.
// Slow: for after a phase that freed much memory.
func Trim() error {
	if code := C.gb_trim(); code != 0 {
		return fmt.Errorf("gballoc: gb_trim: %w", syscall.Errno(code))
	}
	return nil
}

// ThreadIdle tells the backend that the calling OS thread is going idle, so
// that the blocks it caches go back to the shared heap (a hint; cheap). Call
// it with the goroutine locked to its thread (runtime.LockOSThread), or it
// applies to whichever thread the goroutine runs on.
func ThreadIdle() error {
	if code := C.gb_thread_idle(); code != 0 {
		return fmt.Errorf("gballoc: gb_thread_idle: %w", syscall.Errno(code))
	}
	return nil
}

// ProfileStart starts sampling allocations, one every sampleBytes bytes on
// average (0: 512 KiB). It fails with syscall.ENOTSUP unless the library was
// built with profiling (libgraphbit_alloc_profiling).
func ProfileStart(sampleBytes uint) error {
	return profileError("gb_profile_start", C.gb_profile_start(C.size_t(sampleBytes)))
}

// ProfileStop stops sampling; the samples taken stay for ProfileDump.
func ProfileStop() error { return profileError("gb_profile_stop", C.gb_profile_stop()) }

// ProfileDump writes the live heap to path as a gzipped pprof profile
// (`go tool pprof path`); with peak, the heap at its peak since the start.
func ProfileDump(path string, peak bool) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if peak {
		return profileError("gb_profile_dump_peak", C.gb_profile_dump_peak(cpath))
	}
	return profileError("gb_profile_dump", C.gb_profile_dump(cpath))
}

func profileError(name string, code C.int) error {
	if code != 0 {
		return fmt.Errorf("gballoc: %s: %w", name, syscall.Errno(code))
	}
	return nil
}

// Owns reports whether p points into memory the library's backend manages
// (false for Go memory, C's malloc, nil; always false on the system backend).
func Owns(p unsafe.Pointer) bool { return bool(C.gb_owns(p)) }

// AllocatorName is the backend: "jemalloc", "mimalloc" or "system".
func AllocatorName() string { return C.GoString(C.gb_allocator_name()) }

// AllocatorVersion is the backend's own version string.
func AllocatorVersion() string { return C.GoString(C.gb_allocator_version()) }

// Version is the library's version, "MAJOR.MINOR.PATCH".
func Version() string { return C.GoString(C.gb_version()) }

// VersionNumber is MAJOR*10000 + MINOR*100 + PATCH of the library loaded.
func VersionNumber() int { return int(C.gb_version_number()) }

// HeaderVersionNumber is GB_VERSION_NUMBER of the header this package was
// built with; a program may compare it with VersionNumber.
const HeaderVersionNumber = C.GB_VERSION_NUMBER
