/* mimalloc's entry points for C and C++ code of the library
 * (src/override/new.cpp), as src/backend/mimalloc.rs calls them from Rust:
 * the backend's half of the C++ side, chosen by build.rs (GB_BACKEND_HEADER)
 * so that no file outside src/backend/ knows which backend it is. */
#include <stddef.h>

/* nothrow, as mimalloc declares them: a noexcept delete can then end in a
 * tail jump instead of a call with a frame of its own. mi_free_size and
 * mi_free_size_aligned ignore the size (mimalloc checks it only in its debug
 * build), so a wrong sized delete is as harmless as under glibc. */
#ifdef __cplusplus
extern "C" {
#endif
__attribute__((nothrow)) void *mi_malloc(size_t size);
__attribute__((nothrow)) void *mi_malloc_aligned(size_t size, size_t alignment);
__attribute__((nothrow)) void mi_free(void *ptr);
__attribute__((nothrow)) void mi_free_size(void *ptr, size_t size);
__attribute__((nothrow)) void mi_free_size_aligned(void *ptr, size_t size, size_t alignment);
#ifdef __cplusplus
}
#endif

static inline void *backend_alloc(size_t size) { return mi_malloc(size); }
static inline void *backend_aligned_alloc(size_t alignment, size_t size) {
    return mi_malloc_aligned(size, alignment);
}
static inline void backend_free(void *ptr) { mi_free(ptr); }
static inline void backend_free_sized(void *ptr, size_t size) { mi_free_size(ptr, size); }
static inline void backend_free_aligned_sized(void *ptr, size_t alignment, size_t size) {
    mi_free_size_aligned(ptr, size, alignment);
}
