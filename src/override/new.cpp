// C++ operator new and delete for whole-process mode (Cargo feature
// `override`), compiled by build.rs only with that feature. Every form of
// the operators is exported by src/override/cxx.rs as a jump to one of the
// functions here, which call the backend's own entry points, as the C
// functions of the override do.
//
// new: the backend's allocation; on failure the new-handler loop of
// [new.delete.single]: call the current new-handler and try again, or throw
// std::bad_alloc when there is none. nothrow new: the same loop, NULL
// instead of the exception (also when the handler throws std::bad_alloc).
// Sized delete gives the backend the size; the new-expression allocated
// exactly that size.

#include <cstddef>
#include <cstdint>
#include <new>

// The backend's entry points as static inline functions (backend_alloc,
// backend_aligned_alloc, backend_free, backend_free_sized,
// backend_free_aligned_sized): build.rs names the header of the backend it
// chose, in src/backend/.
#if !defined(GB_BACKEND_HEADER)
#error "new.cpp: build.rs defines GB_BACKEND_HEADER (src/backend/<backend>_entry_points.h)"
#endif
#include GB_BACKEND_HEADER

#define GB_HIDDEN extern "C" __attribute__((visibility("hidden")))

// gb-profile hooks (Cargo feature `profiling`, src/profile/): each block new
// returns, and each block delete takes, passes the heap profiler.
#if defined(GB_PROFILING)
extern "C" void *graphbit_alloc_profile_after_alloc(void *block, size_t size);
extern "C" void graphbit_alloc_profile_before_free(void *block);
#define GB_PROFILE_NEW(p, size) graphbit_alloc_profile_after_alloc((p), (size))
#define GB_PROFILE_DELETE(p) graphbit_alloc_profile_before_free(p)
#else
#define GB_PROFILE_NEW(p, size) (p)
#define GB_PROFILE_DELETE(p) ((void)0)
#endif

// The C++ library's new-handler. mimalloc defines a weak
// std::get_new_handler() that returns NULL (for its C-only builds); linked
// into this library it would win over libstdc++'s, and no handler would ever
// run. The versioned reference binds to libstdc++'s own function.
#if defined(__GLIBCXX__)
extern "C" std::new_handler gb_override_libstdcxx_get_new_handler();
__asm__(".symver gb_override_libstdcxx_get_new_handler, _ZSt15get_new_handlerv@GLIBCXX_3.4.20");
static inline std::new_handler current_new_handler() {
    return gb_override_libstdcxx_get_new_handler();
}
#else
static inline std::new_handler current_new_handler() { return std::get_new_handler(); }
#endif

// The alignment of a new-expression for an over-aligned type is a power of
// two by the language; larger than PTRDIFF_MAX cannot be served.
static inline bool alignment_servable(size_t alignment, size_t size) {
    return alignment != 0 && (alignment & (alignment - 1)) == 0 &&
           alignment <= (size_t)PTRDIFF_MAX && size <= (size_t)PTRDIFF_MAX - alignment;
}

static inline void *try_alloc(size_t size, size_t alignment) {
    if (alignment == 0) return backend_alloc(size);
    if (!alignment_servable(alignment, size)) return nullptr;
    return backend_aligned_alloc(alignment, size);
}

__attribute__((noinline, cold)) static void *new_slow(size_t size, size_t alignment) {
    for (;;) {
        std::new_handler handler = current_new_handler();
        if (handler == nullptr) throw std::bad_alloc();
        handler();
        if (void *p = try_alloc(size, alignment)) return p;
    }
}

__attribute__((noinline, cold)) static void *new_nothrow_slow(size_t size, size_t alignment) noexcept {
    for (;;) {
        std::new_handler handler = current_new_handler();
        if (handler == nullptr) return nullptr;
        try {
            handler();
        } catch (...) {
            return nullptr;
        }
        if (void *p = try_alloc(size, alignment)) return p;
    }
}

GB_HIDDEN void *gb_override_cxx_new(size_t size) {
    if (void *p = backend_alloc(size)) [[likely]]
        return GB_PROFILE_NEW(p, size);
    return GB_PROFILE_NEW(new_slow(size, 0), size);
}

GB_HIDDEN void *gb_override_cxx_new_nothrow(size_t size, const std::nothrow_t &) noexcept {
    if (void *p = backend_alloc(size)) [[likely]]
        return GB_PROFILE_NEW(p, size);
    return GB_PROFILE_NEW(new_nothrow_slow(size, 0), size);
}

GB_HIDDEN void *gb_override_cxx_new_aligned(size_t size, std::align_val_t alignment) {
    size_t a = static_cast<size_t>(alignment);
    if (void *p = try_alloc(size, a ? a : 1)) [[likely]]
        return GB_PROFILE_NEW(p, size);
    return GB_PROFILE_NEW(new_slow(size, a ? a : 1), size);
}

GB_HIDDEN void *gb_override_cxx_new_aligned_nothrow(size_t size, std::align_val_t alignment,
                                                    const std::nothrow_t &) noexcept {
    size_t a = static_cast<size_t>(alignment);
    if (void *p = try_alloc(size, a ? a : 1)) [[likely]]
        return GB_PROFILE_NEW(p, size);
    return GB_PROFILE_NEW(new_nothrow_slow(size, a ? a : 1), size);
}

// delete(p), delete(p, nothrow), and the aligned forms without a size: the
// backend finds the block's size itself.
GB_HIDDEN void gb_override_cxx_delete(void *ptr) noexcept {
    GB_PROFILE_DELETE(ptr);
    backend_free(ptr);
}

GB_HIDDEN void gb_override_cxx_delete_aligned(void *ptr, std::align_val_t alignment) noexcept {
    GB_PROFILE_DELETE(ptr);
#if defined(GB_CHECKED_OVERRIDE)
    backend_free_aligned(ptr, static_cast<size_t>(alignment));
#else
    (void)alignment;
    backend_free(ptr);
#endif
}

GB_HIDDEN void gb_override_cxx_delete_sized(void *ptr, size_t size) noexcept {
    if (ptr == nullptr) return;
    GB_PROFILE_DELETE(ptr);
    backend_free_sized(ptr, size);
}

GB_HIDDEN void gb_override_cxx_delete_sized_aligned(void *ptr, size_t size,
                                                    std::align_val_t alignment) noexcept {
    if (ptr == nullptr) return;
    GB_PROFILE_DELETE(ptr);
    size_t a = static_cast<size_t>(alignment);
    if (alignment_servable(a, size))
        backend_free_aligned_sized(ptr, a, size);
    else
        backend_free(ptr);
}
