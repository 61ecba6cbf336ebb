package main

import (
	"fmt"
	"log"

	gballoc "github.com/graphbit/graphbit-alloc/bindings/go"
)

func main() {
	buf, err := gballoc.New(4096, gballoc.Zeroed())
	if err != nil {
		log.Fatal(err) // errors.Is(err, gballoc.ErrOutOfMemory)
	}
	defer buf.Free()
	n := copy(buf.Bytes(), "hello") // a []byte over C memory: no copy, not Go's GC's
	fmt.Println(string(buf.Bytes()[:n]))
	stats, _ := gballoc.Stats()
	fmt.Println(gballoc.AllocatorName(), gballoc.Verify(), stats.Allocated > 0)
}
