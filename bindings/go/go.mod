module github.com/graphbit/graphbit-alloc/bindings/go

go 1.19
