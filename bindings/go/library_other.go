//go:build !unix

package gballoc

// LibraryPath is "" where dladdr is missing.
func LibraryPath() string { return "" }
