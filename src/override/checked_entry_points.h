/* The checked override's entry points for new.cpp (build.rs names this
 * header instead of the backend's when the Cargo feature override-checked is
 * on): every block recorded and every delete checked
 * (src/checked_override/); size SIZE_MAX and alignment 0 mean "not
 * given". The two functions are hidden symbols of the library. */
#include <stddef.h>
#include <stdint.h>

extern "C" {
void *gb_override_checked_new(size_t size, size_t alignment);
void gb_override_checked_delete(void *ptr, size_t size, size_t alignment);
}

static inline void *backend_alloc(size_t size) { return gb_override_checked_new(size, 0); }
static inline void *backend_aligned_alloc(size_t alignment, size_t size) {
    return gb_override_checked_new(size, alignment);
}
static inline void backend_free(void *ptr) { gb_override_checked_delete(ptr, SIZE_MAX, 0); }
static inline void backend_free_aligned(void *ptr, size_t alignment) {
    gb_override_checked_delete(ptr, SIZE_MAX, alignment);
}
static inline void backend_free_sized(void *ptr, size_t size) {
    gb_override_checked_delete(ptr, size, 0);
}
static inline void backend_free_aligned_sized(void *ptr, size_t alignment, size_t size) {
    gb_override_checked_delete(ptr, size, alignment);
}
