package gballoc_test

import (
	"fmt"
	"testing"

	gballoc "github.com/graphbit/graphbit-alloc/bindings/go"
	"github.com/graphbit/graphbit-alloc/bindings/go/internal/cmem"
)

var sink []byte

// BenchmarkAlloc: allocate, touch one byte, free, for three sizes: a Buffer,
// make([]byte) (the garbage collector frees it), C's malloc and free, and
// gb_alloc and gb_free_sized called directly (what the Buffer adds is the
// difference between that and Buffer: a Go object and its finalizer).
func BenchmarkAlloc(b *testing.B) {
	for _, size := range []int{64, 4096, 1 << 20} {
		b.Run(fmt.Sprintf("Buffer/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				buf, err := gballoc.New(size)
				if err != nil {
					b.Fatal(err)
				}
				buf.Bytes()[0] = byte(i)
				buf.Free()
			}
		})
		b.Run(fmt.Sprintf("make/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s := make([]byte, size)
				s[0] = byte(i)
				sink = s
			}
		})
		b.Run(fmt.Sprintf("C.malloc/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p := cmem.Malloc(size)
				*(*byte)(p) = byte(i)
				cmem.Free(p)
			}
		})
		b.Run(fmt.Sprintf("gb_alloc/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p := cmem.GbAlloc(size)
				*(*byte)(p) = byte(i)
				cmem.GbFreeSized(p, size)
			}
		})
	}
}
