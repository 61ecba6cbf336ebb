/**
 * \file graphbit_alloc.hpp
 * \brief C++ adapters for graphbit-alloc (hand-written; the C API is in
 * graphbit_alloc.h).
 *
 * - `gb::allocator<T>`: a standard allocator for `std::vector`, `std::map`,
 *   `std::basic_string` and every other allocator-aware container (C++11).
 * - `gb::memory_resource` and `gb::resource()`: a `std::pmr::memory_resource`
 *   (C++17).
 * - `gb::heap_resource`: a `std::pmr::memory_resource` that owns a heap
 *   (`gb_heap_new`), optionally capped; everything it allocated is freed at
 *   once when it is destroyed or `release()`d (C++17).
 * - `gb::deleter<T>`, `gb::make_unique<T>(...)`, `gb::free_deleter`:
 *   `std::unique_ptr` that owns graphbit-alloc memory.
 * - Global `operator new`/`delete`: `#define GB_REPLACE_GLOBAL_NEW` before
 *   including this header in exactly ONE translation unit of a program, and
 *   every `new`/`delete` in the program (all forms: plain, array, nothrow,
 *   sized, aligned) goes to graphbit-alloc.
 *
 * Failures throw `std::bad_alloc` (`std::bad_array_new_length` when a count
 * overflows), as the standard allocators do; deallocation never throws.
 * Frees pass the size (and alignment) back whenever it is known
 * (`gb_free_sized`, `gb_free_aligned_sized`).
 */
#ifndef GRAPHBIT_ALLOC_HPP
#define GRAPHBIT_ALLOC_HPP

#include <cstddef>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "graphbit_alloc.h"

#if __cplusplus >= 201703L && defined(__has_include)
#if __has_include(<memory_resource>)
#include <memory_resource>
/** Defined when `gb::memory_resource` is available (C++17 with <memory_resource>). */
#define GB_HAS_MEMORY_RESOURCE 1
#endif
#endif

namespace gb {

/** The largest alignment a `gb_alloc` block can have for free (fundamental alignment). */
constexpr std::size_t default_alignment = alignof(std::max_align_t);

namespace detail {
/**
 * Whether `gb_alloc(size)` is aligned enough: like `malloc`, it aligns a
 * block for the objects that fit in it (an 8- or 24-byte block may be only
 * 8-aligned), so only a size that is a non-zero multiple of an alignment up
 * to `default_alignment` is sure to get it; anything else goes through
 * `gb_aligned_alloc`.
 */
constexpr bool plain_block_suffices(std::size_t size, std::size_t alignment) noexcept {
    return alignment <= default_alignment && size >= alignment && size % alignment == 0;
}

/** `size` bytes aligned to `alignment`, or std::bad_alloc. */
inline void *allocate_bytes(std::size_t size, std::size_t alignment) {
    void *p = plain_block_suffices(size, alignment) ? gb_alloc(size)
                                                    : gb_aligned_alloc(alignment, size);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

/** Frees a block from allocate_bytes(size, alignment), with the same arguments. */
inline void free_bytes(void *p, std::size_t size, std::size_t alignment) noexcept {
    if (plain_block_suffices(size, alignment))
        gb_free_sized(p, size);
    else
        gb_free_aligned_sized(p, alignment, size);
}
}  // namespace detail

/**
 * A standard allocator over graphbit-alloc. Stateless: every instance is
 * interchangeable (memory from one may be freed by another, of any T).
 */
template <class T>
class allocator {
public:
    using value_type = T;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using propagate_on_container_move_assignment = std::true_type;
    using is_always_equal = std::true_type;

    template <class U>
    struct rebind {
        using other = allocator<U>;
    };

    allocator() noexcept = default;
    template <class U>
    allocator(const allocator<U> &) noexcept {}

    /** Memory for `n` objects of T, aligned for T. Throws on failure. */
    T *allocate(std::size_t n) {
        if (n > max_size()) throw std::bad_array_new_length();
        return static_cast<T *>(detail::allocate_bytes(n * sizeof(T), alignof(T)));
    }

    /** Frees memory from allocate(n), with the same `n`. */
    void deallocate(T *p, std::size_t n) noexcept {
        detail::free_bytes(p, n * sizeof(T), alignof(T));
    }

    /** Largest `n` that allocate() may succeed for (sizes above PTRDIFF_MAX always fail). */
    std::size_t max_size() const noexcept {
        return static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()) / sizeof(T);
    }
};

template <class T, class U>
bool operator==(const allocator<T> &, const allocator<U> &) noexcept {
    return true;
}
template <class T, class U>
bool operator!=(const allocator<T> &, const allocator<U> &) noexcept {
    return false;
}

#if defined(GB_HAS_MEMORY_RESOURCE)
/**
 * A `std::pmr::memory_resource` over graphbit-alloc. All instances are
 * interchangeable; `gb::resource()` returns a shared one.
 */
class memory_resource : public std::pmr::memory_resource {
protected:
    void *do_allocate(std::size_t bytes, std::size_t alignment) override {
        return detail::allocate_bytes(bytes, alignment);
    }
    void do_deallocate(void *p, std::size_t bytes, std::size_t alignment) override {
        detail::free_bytes(p, bytes, alignment);
    }
    bool do_is_equal(const std::pmr::memory_resource &other) const noexcept override {
#if defined(__GXX_RTTI) || defined(_CPPRTTI)
        return dynamic_cast<const gb::memory_resource *>(&other) != nullptr;
#else
        return this == &other;
#endif
    }
};

/**
 * A `std::pmr::memory_resource` over its own heap (`gb_heap_t`): blocks come
 * from the heap, `deallocate` frees one (sized), and the destructor frees
 * every block at once (`gb_heap_destroy`), as `std::pmr::monotonic_buffer_resource`
 * does, but with memory reused after each `deallocate` and returned to the
 * OS at the end. A `limit_bytes` other than 0 caps the heap's live usable
 * bytes: past it `allocate` throws `std::bad_alloc`. Any thread may allocate
 * and deallocate; destroying the resource while another thread uses it is
 * undefined. Equal only to itself. Not copyable or movable (containers hold
 * a pointer to it).
 */
class heap_resource : public std::pmr::memory_resource {
public:
    /** A new heap; throws `std::bad_alloc` when it cannot be made. */
    explicit heap_resource(std::size_t limit_bytes = 0) : heap_(gb_heap_new(limit_bytes)) {
        if (heap_ == nullptr) throw std::bad_alloc();
    }
    heap_resource(const heap_resource &) = delete;
    heap_resource &operator=(const heap_resource &) = delete;
    ~heap_resource() override { gb_heap_destroy(heap_); }

    /**
     * Frees every block allocated so far at once and starts a new, empty heap
     * with the same limit (as `monotonic_buffer_resource::release`). Throws
     * `std::bad_alloc`, keeping the old heap and its blocks, when the new
     * heap cannot be made.
     */
    void release() {
        gb_heap_t *fresh = gb_heap_new(limit());
        if (fresh == nullptr) throw std::bad_alloc();
        gb_heap_destroy(heap_);
        heap_ = fresh;
    }

    /** The heap, for the C API (`gb_heap_stats`, `gb_lua_alloc`...). */
    gb_heap_t *heap() const noexcept { return heap_; }

    /** The heap's counters (`gb_heap_stats`). */
    gb_heap_stats_t stats() const noexcept {
        gb_heap_stats_t out{};
        out.size = sizeof out;
        gb_heap_stats(heap_, &out);
        return out;
    }

    /** The limit in usable bytes, 0 for none. */
    std::size_t limit() const noexcept { return static_cast<std::size_t>(stats().limit_bytes); }

protected:
    void *do_allocate(std::size_t bytes, std::size_t alignment) override {
        void *p = detail::plain_block_suffices(bytes, alignment)
                      ? gb_heap_alloc(heap_, bytes)
                      : gb_heap_aligned_alloc(heap_, alignment, bytes);
        if (p == nullptr) throw std::bad_alloc();
        return p;
    }
    void do_deallocate(void *p, std::size_t bytes, std::size_t alignment) override {
        detail::free_bytes(p, bytes, alignment);
    }
    bool do_is_equal(const std::pmr::memory_resource &other) const noexcept override {
        return this == &other;
    }

private:
    gb_heap_t *heap_;
};

/** The process-wide gb::memory_resource (never destroyed, usable at any time). */
inline memory_resource *resource() noexcept {
    // Built in static storage and never destroyed, so that containers with
    // static storage duration can still free into it during exit.
    alignas(memory_resource) static unsigned char storage[sizeof(memory_resource)];
    static memory_resource *const instance = ::new (static_cast<void *>(storage)) memory_resource();
    return instance;
}
#endif

/** For `std::unique_ptr<void or bytes, gb::free_deleter>` holding a `gb_alloc` block. */
struct free_deleter {
    void operator()(void *p) const noexcept { gb_free(p); }
};

/** Destroys a T made by gb::make_unique<T> and frees its memory (sized). */
template <class T>
struct deleter {
    void operator()(T *p) const noexcept {
        if (p == nullptr) return;
        p->~T();
        detail::free_bytes(p, sizeof(T), alignof(T));
    }
};

/** Destroys the `count` elements made by gb::make_unique<T[]>(count) and frees them. */
template <class T>
struct deleter<T[]> {
    std::size_t count = 0;
    void operator()(T *p) const noexcept {
        if (p == nullptr) return;
        for (std::size_t i = count; i > 0; --i) p[i - 1].~T();
        detail::free_bytes(p, count * sizeof(T), alignof(T));
    }
};

/** `std::unique_ptr` whose memory comes from graphbit-alloc. */
template <class T>
using unique_ptr = std::unique_ptr<T, deleter<T>>;

/** Like std::make_unique<T>(args...), with memory from graphbit-alloc. */
template <class T, class... Args>
typename std::enable_if<!std::is_array<T>::value, unique_ptr<T>>::type make_unique(
    Args &&...args) {
    void *memory = detail::allocate_bytes(sizeof(T), alignof(T));
    try {
        return unique_ptr<T>(::new (memory) T(std::forward<Args>(args)...));
    } catch (...) {
        detail::free_bytes(memory, sizeof(T), alignof(T));
        throw;
    }
}

/** Like std::make_unique<T[]>(count): `count` value-initialised elements. */
template <class T>
typename std::enable_if<std::is_array<T>::value && std::extent<T>::value == 0,
                        unique_ptr<T>>::type
make_unique(std::size_t count) {
    using E = typename std::remove_extent<T>::type;
    if (count > allocator<E>().max_size()) throw std::bad_array_new_length();
    E *elements = static_cast<E *>(detail::allocate_bytes(count * sizeof(E), alignof(E)));
    std::size_t made = 0;
    try {
        for (; made < count; ++made) ::new (static_cast<void *>(elements + made)) E();
    } catch (...) {
        deleter<T>{made}(elements);  // destroys what was made, frees all
        throw;
    }
    return unique_ptr<T>(elements, deleter<T>{count});
}

}  // namespace gb

#endif /* GRAPHBIT_ALLOC_HPP */

/*
 * Global operator new/delete, defined only where GB_REPLACE_GLOBAL_NEW is set
 * (in exactly one translation unit), and outside the include guard so that it
 * works even when another header already included this one.
 */
#if defined(GB_REPLACE_GLOBAL_NEW) && !defined(GB_GLOBAL_NEW_DEFINED)
#define GB_GLOBAL_NEW_DEFINED 1

namespace gb {
namespace detail {
/**
 * operator new's loop: try, call the new-handler, try again; bad_alloc
 * without one. `alignment` 0: plain gb_alloc; else gb_aligned_alloc (so that
 * the aligned deletes may use gb_free_aligned_sized).
 */
inline void *new_bytes(std::size_t size, std::size_t alignment) {
    for (;;) {
        void *p = alignment == 0 ? gb_alloc(size) : gb_aligned_alloc(alignment, size);
        if (p != nullptr) return p;
        std::new_handler handler = std::get_new_handler();
        if (handler == nullptr) throw std::bad_alloc();
        handler();
    }
}

inline void *new_bytes_nothrow(std::size_t size, std::size_t alignment) noexcept {
    try {
        return new_bytes(size, alignment);
    } catch (...) {
        return nullptr;
    }
}
}  // namespace detail
}  // namespace gb

void *operator new(std::size_t size) { return gb::detail::new_bytes(size, 0); }
void *operator new[](std::size_t size) { return gb::detail::new_bytes(size, 0); }
void *operator new(std::size_t size, const std::nothrow_t &) noexcept {
    return gb::detail::new_bytes_nothrow(size, 0);
}
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept {
    return gb::detail::new_bytes_nothrow(size, 0);
}
void operator delete(void *p) noexcept { gb_free(p); }
void operator delete[](void *p) noexcept { gb_free(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { gb_free(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { gb_free(p); }

#if __cplusplus >= 201402L
void operator delete(void *p, std::size_t size) noexcept { gb_free_sized(p, size); }
void operator delete[](void *p, std::size_t size) noexcept { gb_free_sized(p, size); }
#endif

#if defined(__cpp_aligned_new)
void *operator new(std::size_t size, std::align_val_t alignment) {
    return gb::detail::new_bytes(size, static_cast<std::size_t>(alignment));
}
void *operator new[](std::size_t size, std::align_val_t alignment) {
    return gb::detail::new_bytes(size, static_cast<std::size_t>(alignment));
}
void *operator new(std::size_t size, std::align_val_t alignment,
                   const std::nothrow_t &) noexcept {
    return gb::detail::new_bytes_nothrow(size, static_cast<std::size_t>(alignment));
}
void *operator new[](std::size_t size, std::align_val_t alignment,
                     const std::nothrow_t &) noexcept {
    return gb::detail::new_bytes_nothrow(size, static_cast<std::size_t>(alignment));
}
void operator delete(void *p, std::align_val_t) noexcept { gb_free(p); }
void operator delete[](void *p, std::align_val_t) noexcept { gb_free(p); }
void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept { gb_free(p); }
void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept {
    gb_free(p);
}
void operator delete(void *p, std::size_t size, std::align_val_t alignment) noexcept {
    gb_free_aligned_sized(p, static_cast<std::size_t>(alignment), size);
}
void operator delete[](void *p, std::size_t size, std::align_val_t alignment) noexcept {
    gb_free_aligned_sized(p, static_cast<std::size_t>(alignment), size);
}
#endif

#endif /* GB_REPLACE_GLOBAL_NEW */
