/* A wrong sized free must not file the block under another size class: after
 * it, no allocation of the wrong size may be served inside the block, as
 * under glibc (which ignores the size). Run with the default override
 * preloaded by tests/misuse-matrix.sh --check-override:
 *
 *   wrong_size_reuse
 *
 * covers C++ sized delete (_ZdlPvm), C23 free_sized and free_aligned_sized
 * (when the process has them), a small block freed as a large one and the
 * reverse. Prints one line per case; exits 1 if a block was handed out for
 * the wrong size. For allocators that keep size classes apart (jemalloc,
 * mimalloc): glibc splits a freed large chunk for small requests, so its
 * "large freed as small" lines say FAIL without a misuse being the cause. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *_Znwm(size_t size);
void _ZdlPvm(void *ptr, size_t size);

typedef void (*sized_free_fn)(void *, size_t);

/* Frees a block of `size` bytes as one of `wrong` bytes, then asks 16 blocks
 * of `wrong` bytes. A small block freed as a large one: none may overlap it
 * (each is written in full, which would corrupt its neighbours). A large
 * one freed as a small one: none may be the block itself (filed under the
 * small class, its slab's records are then wrong; a free that ignores the
 * size files it under its own class, where a small request never finds
 * it). */
static int check(const char *name, void *(*alloc)(size_t), sized_free_fn sized_free, size_t size,
                 size_t wrong) {
    char *p = alloc(size);
    if (p == NULL) abort();
    sized_free(p, wrong);
    void *blocks[16];
    int bad = 0;
    for (int i = 0; i < 16; i++) {
        char *q = malloc(wrong);
        if (q == NULL) abort();
        if (size < wrong ? q < p + size && p < q + wrong : q == p) bad = 1;
        memset(q, 0x5a, wrong);
        blocks[i] = q;
    }
    for (int i = 0; i < 16; i++) free(blocks[i]);
    printf("%s: %s(block of %zu, size %zu): %s\n", bad ? "FAIL" : "ok", name, size, wrong,
           bad ? "the block was served for the wrong size" : "not served for the wrong size");
    return bad;
}

static void free_aligned_as_sized(void *p, size_t size) {
    void (*f)(void *, size_t, size_t) =
        (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "free_aligned_sized");
    f(p, 16, size);
}

int main(void) {
    int fail = 0;
    fail |= check("operator delete", _Znwm, _ZdlPvm, 8, 4096);
    fail |= check("operator delete", _Znwm, _ZdlPvm, 4096, 8);
    sized_free_fn free_sized = (sized_free_fn)dlsym(RTLD_DEFAULT, "free_sized");
    if (free_sized != NULL) {
        fail |= check("free_sized", malloc, free_sized, 8, 4096);
        fail |= check("free_sized", malloc, free_sized, 4096, 8);
    } else {
        printf("free_sized: not in this process\n");
    }
    if (dlsym(RTLD_DEFAULT, "free_aligned_sized") != NULL) {
        fail |= check("free_aligned_sized", malloc, free_aligned_as_sized, 16, 4096);
    } else {
        printf("free_aligned_sized: not in this process\n");
    }
    return fail;
}
