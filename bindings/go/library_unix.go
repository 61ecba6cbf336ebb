//go:build unix

package gballoc

/*
#cgo linux LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include "graphbit_alloc.h"

static const char *gballoc_library_path(void) {
	Dl_info info;
	if (dladdr((void *)gb_version, &info) && info.dli_fname)
		return info.dli_fname;
	return NULL;
}
*/
import "C"

// LibraryPath is the file the dynamic loader took the library from, as
// dladdr reports it ("" when it cannot tell).
func LibraryPath() string {
	p := C.gballoc_library_path()
	if p == nil {
		return ""
	}
	return C.GoString(p)
}
