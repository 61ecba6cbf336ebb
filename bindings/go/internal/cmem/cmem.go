// Package cmem is C's malloc and free, and graphbit-alloc's gb_alloc and
// gb_free_sized called directly, for the benchmark that compares Buffer with
// them (test files cannot use cgo themselves).
package cmem

/*
#cgo pkg-config: graphbit-alloc
#include <stdlib.h>
#include "graphbit_alloc.h"
*/
import "C"

import "unsafe"

// Malloc is C's malloc.
func Malloc(size int) unsafe.Pointer { return C.malloc(C.size_t(size)) }

// Free is C's free.
func Free(p unsafe.Pointer) { C.free(p) }

// GbAlloc is gb_alloc, without a Buffer around it.
func GbAlloc(size int) unsafe.Pointer { return C.gb_alloc(C.size_t(size)) }

// GbFreeSized is gb_free_sized.
func GbFreeSized(p unsafe.Pointer, size int) { C.gb_free_sized(p, C.size_t(size)) }
