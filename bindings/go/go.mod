module graphbit-alloc/gballoc

go 1.19
