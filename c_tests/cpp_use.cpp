// A C++ translation unit that includes the header and uses the API: the
// extern "C" guards must give C linkage, and the library must serve C++ code.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "graphbit_alloc.h"
#include "gb_test.hpp"

namespace {
struct gb_deleter {
    void operator()(void *p) const noexcept { gb_free(p); }
};

}  // namespace

int main() {
    std::vector<std::unique_ptr<void, gb_deleter>> blocks;
    for (std::size_t n = 1; n < 100000; n = n * 3 + 1) {
        std::unique_ptr<void, gb_deleter> p(gb_alloc(n));
        CHECK(p != nullptr);
        std::memset(p.get(), 0x11, n);
        blocks.push_back(std::move(p));
    }
    void *aligned = gb_aligned_alloc(64, 100);
    CHECK(aligned != nullptr && (reinterpret_cast<std::uintptr_t>(aligned) % 64) == 0);
    gb_free_aligned_sized(aligned, 64, 100);
    errno = 0;
    CHECK(gb_alloc(SIZE_MAX) == nullptr && errno == ENOMEM);
    CHECK(gb_verify());
    CHECK(std::strlen(gb_allocator_name()) > 0);
    if (gb_test_failures) return 1;
    std::printf("cpp_use: ok (%s %s)\n", gb_allocator_name(), gb_allocator_version());
    return 0;
}
