/* jemalloc's entry points for C and C++ code of the library
 * (src/override/new.cpp), as src/backend/jemalloc.rs calls them from Rust:
 * the backend's half of the C++ side, chosen by build.rs (GB_BACKEND_HEADER)
 * so that no file outside src/backend/ knows which backend it is. */
#include <stddef.h>

/* nothrow, as jemalloc declares them: a noexcept delete can then end in a
 * tail jump to _rjem_free, where a call that might throw needs a frame of
 * its own (4 instructions more per delete). */
#ifdef __cplusplus
extern "C" {
#endif
__attribute__((nothrow)) void *_rjem_malloc(size_t size);
__attribute__((nothrow)) void *_rjem_aligned_alloc(size_t alignment, size_t size);
__attribute__((nothrow)) void _rjem_free(void *ptr);
/* src/backend/jemalloc_conf.c (whole-process mode). */
void graphbit_alloc_start_background_thread(void);
#ifdef __cplusplus
}
#endif

/* Before a request of GB_LARGE_BLOCK bytes or more (build.rs, from
 * src/backend/large_block.rs): starts jemalloc's background thread once. */
static inline void backend_before_request(size_t size) {
    if (size >= (size_t)GB_LARGE_BLOCK) graphbit_alloc_start_background_thread();
}
static inline void *backend_alloc(size_t size) {
    backend_before_request(size);
    return _rjem_malloc(size);
}
static inline void *backend_aligned_alloc(size_t alignment, size_t size) {
    backend_before_request(size);
    return _rjem_aligned_alloc(alignment, size);
}
static inline void backend_free(void *ptr) { _rjem_free(ptr); }
/* Sized and aligned sized delete free as unsized delete does, ignoring the
 * size, as glibc does: jemalloc's sdallocx trusts the size to pick the size
 * class, so a wrong one (a delete through a base class without a virtual
 * destructor) would file the block under another class and hand it out for
 * larger requests. Cost: 3.1 instructions per sized new+delete pair
 * (102.8 -> 105.9, callgrind; docs/whole-process.md). */
static inline void backend_free_sized(void *ptr, size_t size) {
    (void)size;
    _rjem_free(ptr);
}
static inline void backend_free_aligned_sized(void *ptr, size_t alignment, size_t size) {
    (void)alignment;
    (void)size;
    _rjem_free(ptr);
}
