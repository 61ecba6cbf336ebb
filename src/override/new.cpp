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

#include <dlfcn.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
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

// The C++ runtime, found when it is needed rather than linked: the
// library has no DT_NEEDED on libstdc++ (and through it libm), which would
// map about 0.9 MiB into every program it is preloaded into, C or C++
// (docs/memory.md). Only the failure paths below need the runtime, and a
// C++ program that set a new-handler or catches std::bad_alloc has it
// loaded: libstdc++.so.6, else libc++.so.1, looked up with RTLD_NOLOAD in
// whatever scope loaded it (a Python extension module's libstdc++ is
// local to it), and kept (the handle pins it). The symbols are taken from
// that handle, never from the global scope, where the operators are ours
// and mimalloc's C sources define a weak std::get_new_handler stub.
namespace {
struct Runtime {
    void *handle;
    std::new_handler (*get_new_handler)();
    [[noreturn]] void (*throw_bad_alloc)();
    void *(*new_nothrow)(size_t, const std::nothrow_t &) noexcept;
    void *(*new_aligned_nothrow)(size_t, std::align_val_t, const std::nothrow_t &) noexcept;
};
}  // namespace

static const char *const runtime_names[2] = {"libstdc++.so.6", "libc++.so.1"};

static bool runtime_symbols(void *handle, Runtime *rt) {
    rt->handle = handle;
    rt->get_new_handler =
        reinterpret_cast<std::new_handler (*)()>(dlsym(handle, "_ZSt15get_new_handlerv"));
    // libstdc++'s std::__throw_bad_alloc(), libc++'s std::__1::__throw_bad_alloc().
    void *thrower = dlsym(handle, "_ZSt17__throw_bad_allocv");
    if (thrower == nullptr) thrower = dlsym(handle, "_ZNSt3__117__throw_bad_allocEv");
    rt->throw_bad_alloc = reinterpret_cast<void (*)()>(thrower);
    rt->new_nothrow = reinterpret_cast<decltype(rt->new_nothrow)>(dlsym(handle, "_ZnwmRKSt9nothrow_t"));
    rt->new_aligned_nothrow = reinterpret_cast<decltype(rt->new_aligned_nothrow)>(
        dlsym(handle, "_ZnwmSt11align_val_tRKSt9nothrow_t"));
    return rt->get_new_handler != nullptr && rt->throw_bad_alloc != nullptr &&
           rt->new_nothrow != nullptr && rt->new_aligned_nothrow != nullptr;
}

// The loaded C++ runtime, or false when the process has none. Cold: only
// after the backend failed to allocate. The first handle found is kept for
// good (its reference keeps the runtime mapped while its functions run).
static std::atomic<void *> runtime_handle{nullptr};

static bool loaded_runtime(Runtime *rt) {
    void *handle = runtime_handle.load(std::memory_order_acquire);
    if (handle != nullptr) return runtime_symbols(handle, rt);
    for (const char *name : runtime_names) {
        handle = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
        if (handle == nullptr) continue;
        if (!runtime_symbols(handle, rt)) {
            dlclose(handle);
            continue;
        }
        void *expected = nullptr;
        if (!runtime_handle.compare_exchange_strong(expected, handle, std::memory_order_acq_rel))
            dlclose(handle);  // another thread kept one first: the same runtime is still loaded
        return true;
    }
    return false;
}

[[noreturn]] static void throw_bad_alloc(const Runtime *loaded) {
    if (loaded != nullptr) loaded->throw_bad_alloc();
    // No C++ runtime in the process (operator new called from C, or from a
    // program with its runtime linked in statically and hidden): load
    // libstdc++ to throw, so that the answer is std::bad_alloc as the
    // standard says; without it nothing can be thrown, as under
    // -fno-exceptions, and the process aborts.
    Runtime rt;
    void *handle = dlopen(runtime_names[0], RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr && runtime_symbols(handle, &rt)) rt.throw_bad_alloc();
    abort();
}

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

// The new-handler loop of [new.delete.single]: while there is a handler,
// call it and try again; then throw std::bad_alloc. No landing pad here:
// the handler's exception passes through this frame to the caller.
__attribute__((noinline, cold)) static void *new_slow(size_t size, size_t alignment) {
    Runtime rt;
    if (!loaded_runtime(&rt)) throw_bad_alloc(nullptr);
    for (;;) {
        std::new_handler handler = rt.get_new_handler();
        if (handler == nullptr) throw_bad_alloc(&rt);
        handler();
        if (void *p = try_alloc(size, alignment)) return p;
    }
}

// nothrow new: the standard's default behaviour is to call the throwing
// operator new (ours) and return NULL if it throws. The runtime's own
// nothrow new does exactly that, inside its try/catch, so the catching is
// the runtime's and this library needs no C++ personality routine. Without
// a runtime or a handler there is nothing to call: NULL.
__attribute__((noinline, cold)) static void *new_nothrow_slow(size_t size, size_t alignment) noexcept {
    Runtime rt;
    if (!loaded_runtime(&rt) || rt.get_new_handler() == nullptr) return nullptr;
    const std::nothrow_t tag{};  // not std::nothrow: that object is the runtime's
    if (alignment == 0) return rt.new_nothrow(size, tag);
    if (!alignment_servable(alignment, size)) return nullptr;
    return rt.new_aligned_nothrow(size, static_cast<std::align_val_t>(alignment), tag);
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
