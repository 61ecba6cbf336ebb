// GB_REPLACE_GLOBAL_NEW: every new/delete in the program goes to
// graphbit-alloc. Each form (plain, array, nothrow, sized, aligned) is used
// directly and through containers under load, from several threads; failures
// follow the standard (new-handler, std::bad_alloc, nullptr for nothrow).
#define GB_REPLACE_GLOBAL_NEW
#include <atomic>
#include "graphbit_alloc.hpp"
#include "gb_test.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace {

const bool can_tell = std::string(gb_allocator_name()) != "system";

bool from_gb(const void *p) { return !can_tell || gb_owns(p); }

struct alignas(256) Page {
    unsigned char bytes[300];
};

int handler_calls = 0;
void handler() {
    ++handler_calls;
    std::set_new_handler(nullptr);  // next failure throws
}

void load(int seed) {
    std::map<int, std::string> map;
    std::vector<std::unique_ptr<Page>> pages;
    for (int i = 0; i < 30000; ++i) {
        map[(i * 7919 + seed) % 3000] = std::string(static_cast<size_t>(i % 500), 'm');
        if (i % 10 == 0) pages.push_back(std::unique_ptr<Page>(new Page()));
        if (pages.size() > 200) pages.erase(pages.begin(), pages.begin() + 100);
    }
    CHECK(map.size() == 3000);
    for (auto &p : pages) CHECK(reinterpret_cast<std::uintptr_t>(p.get()) % 256 == 0);
    CHECK(from_gb(&*map.begin()));
}
}  // namespace

int main() {
    int *one = new int(42);
    CHECK(*one == 42 && from_gb(one));
    delete one;  // sized delete (C++14)

    int *many = new int[1000]();
    CHECK(many[999] == 0 && from_gb(many));
    delete[] many;

    std::string *strings = new std::string[10];  // array cookie: sized delete[] with the full size
    strings[9] = std::string(100, 's');
    CHECK(from_gb(strings));
    delete[] strings;

    Page *page = new Page();
    CHECK(reinterpret_cast<std::uintptr_t>(page) % 256 == 0 && from_gb(page));
    delete page;  // sized + aligned delete
    Page *pages = new Page[7];
    CHECK(reinterpret_cast<std::uintptr_t>(pages) % 256 == 0);
    delete[] pages;

    void *raw = ::operator new(100, std::align_val_t(4096));
    CHECK(reinterpret_cast<std::uintptr_t>(raw) % 4096 == 0 && from_gb(raw));
    ::operator delete(raw, std::align_val_t(4096));
    raw = ::operator new(0);  // a unique non-null block
    CHECK(raw != nullptr);
    ::operator delete(raw, std::size_t(0));

    const std::size_t too_big = static_cast<std::size_t>(PTRDIFF_MAX) + 1;
    CHECK(::operator new(too_big, std::nothrow) == nullptr);
    CHECK(::operator new[](too_big, std::nothrow) == nullptr);
    CHECK(::operator new(too_big, std::align_val_t(64), std::nothrow) == nullptr);
    int *fine = new (std::nothrow) int(3);
    CHECK(fine != nullptr && *fine == 3);
    delete fine;

    bool threw = false;
    try {
        (void)::operator new(too_big);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
    std::set_new_handler(handler);
    threw = false;
    try {
        (void)::operator new[](too_big, std::align_val_t(64));
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw && handler_calls == 1);  // called once, then bad_alloc

    load(0);
    std::vector<std::thread> threads;
    for (int t = 1; t <= 4; ++t) threads.emplace_back(load, t);
    for (auto &t : threads) t.join();

    if (gb_test_failures) return 1;
    std::printf("cpp_global_new: ok (%s, %s)\n", gb_allocator_name(),
                can_tell ? "every block checked with gb_owns" : "system backend: gb_owns cannot tell");
    return 0;
}
