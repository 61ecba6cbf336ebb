/* The hardened override's entry points for new.cpp (build.rs names this
 * header instead of the backend's when the Cargo feature override-hardened
 * is on): new samples as malloc does, delete recognises a sampled block
 * (src/hardened/mod.rs); size SIZE_MAX and alignment 0 mean "not given".
 * The two functions are hidden symbols of the library. */
#include <stddef.h>
#include <stdint.h>

extern "C" {
void *gb_override_hardened_new(size_t size, size_t alignment);
void gb_override_hardened_delete(void *ptr, size_t size, size_t alignment);
}

static inline void *backend_alloc(size_t size) { return gb_override_hardened_new(size, 0); }
static inline void *backend_aligned_alloc(size_t alignment, size_t size) {
    return gb_override_hardened_new(size, alignment);
}
static inline void backend_free(void *ptr) { gb_override_hardened_delete(ptr, SIZE_MAX, 0); }
static inline void backend_free_aligned(void *ptr, size_t alignment) {
    gb_override_hardened_delete(ptr, SIZE_MAX, alignment);
}
static inline void backend_free_sized(void *ptr, size_t size) {
    gb_override_hardened_delete(ptr, size, 0);
}
static inline void backend_free_aligned_sized(void *ptr, size_t alignment, size_t size) {
    gb_override_hardened_delete(ptr, size, alignment);
}
