// std::unique_ptr over graphbit-alloc: gb::make_unique for objects and
// arrays (constructors and destructors run exactly once, also when a
// constructor throws), gb::free_deleter for raw blocks, many at once.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "graphbit_alloc.hpp"
#include "gb_test.hpp"

namespace {

bool from_gb(const void *p) {
    return std::string(gb_allocator_name()) == "system" || gb_owns(p);
}

int alive = 0;
int constructed = 0;

struct Counted {
    std::uint64_t value;
    std::string text;
    explicit Counted(std::uint64_t v = 7) : value(v), text(50, 'c') {
        if (v == 13) throw std::runtime_error("unlucky");
        ++alive;
        ++constructed;
    }
    ~Counted() { --alive; }
};

struct alignas(128) Aligned {
    int x = 5;
};
}  // namespace

int main() {
    {
        std::vector<gb::unique_ptr<Counted>> objects;
        for (std::uint64_t i = 0; i < 20000; ++i) {
            if (i == 13) continue;
            objects.push_back(gb::make_unique<Counted>(i));
            if (objects.size() > 1000) objects.erase(objects.begin(), objects.begin() + 500);
        }
        CHECK(alive == static_cast<int>(objects.size()));
        CHECK(objects.back()->value == 19999 && from_gb(objects.back().get()));
    }
    CHECK(alive == 0);

    bool threw = false;
    try {
        (void)gb::make_unique<Counted>(13);
    } catch (const std::runtime_error &) {
        threw = true;
    }
    CHECK(threw && alive == 0);

    {
        auto array = gb::make_unique<Counted[]>(1000);
        CHECK(alive == 1000 && array[999].value == 7 && from_gb(array.get()));
        CHECK(array.get_deleter().count == 1000);
        auto numbers = gb::make_unique<std::uint64_t[]>(4096);
        bool zero = true;
        for (int i = 0; i < 4096; ++i) zero = zero && numbers[i] == 0;
        CHECK(zero);  // value-initialised
        auto empty = gb::make_unique<int[]>(0);
        CHECK(empty != nullptr);
    }
    CHECK(alive == 0);

    // A throwing element constructor: the ones made are destroyed, nothing leaks.
    constructed = 0;
    struct ThrowsAtFifth {
        ThrowsAtFifth() {
            if (constructed == 4) throw std::runtime_error("fifth");
            ++constructed;
            ++alive;
        }
        ~ThrowsAtFifth() { --alive; }
    };
    threw = false;
    try {
        (void)gb::make_unique<ThrowsAtFifth[]>(10);
    } catch (const std::runtime_error &) {
        threw = true;
    }
    CHECK(threw && constructed == 4 && alive == 0);

    auto aligned = gb::make_unique<Aligned>();
    CHECK(reinterpret_cast<std::uintptr_t>(aligned.get()) % 128 == 0 && aligned->x == 5);
    aligned.reset();

    threw = false;
    try {
        (void)gb::make_unique<std::uint64_t[]>(SIZE_MAX / 4);
    } catch (const std::bad_array_new_length &) {
        threw = true;
    }
    CHECK(threw);

    std::unique_ptr<char, gb::free_deleter> raw(static_cast<char *>(gb_alloc(256)));
    CHECK(raw != nullptr);
    std::memset(raw.get(), 'r', 256);
    raw.reset(static_cast<char *>(gb_realloc(raw.release(), 100000)));
    CHECK(raw != nullptr && raw.get()[255] == 'r');

    if (gb_test_failures) return 1;
    std::printf("cpp_unique_ptr: ok (%s)\n", gb_allocator_name());
    return 0;
}
