// gb::memory_resource with std::pmr: containers on gb::resource(), pools and
// monotonic buffers with it upstream, alignments from 1 to 64 KiB, equality,
// several threads at once.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory_resource>
#include <string>
#include <thread>
#include <vector>

#include "graphbit_alloc.hpp"
#include "gb_test.hpp"

namespace {

bool from_gb(const void *p) {
    return std::string(gb_allocator_name()) == "system" || gb_owns(p);
}

void containers(std::pmr::memory_resource *resource, int seed) {
    std::pmr::vector<std::pmr::string> words(resource);
    std::pmr::map<int, std::pmr::vector<int>> table(resource);
    for (int i = 0; i < 20000; ++i) {
        words.emplace_back(static_cast<size_t>((i * 31 + seed) % 200), static_cast<char>('a' + i % 26));
        table[i % 1000].push_back(i);
        if (words.size() > 3000) words.erase(words.begin(), words.begin() + 1500);
    }
    CHECK(words.get_allocator().resource() == resource);
    CHECK(table.size() == 1000 && table[999].size() == 20);
    long sum = 0;
    for (int v : table[7]) sum += v;
    CHECK(sum == 20 * 7 + 1000L * (19 * 20 / 2));
    CHECK(words.back().get_allocator().resource() == resource);  // uses-allocator construction
}

void direct_allocations() {
    std::pmr::memory_resource *r = gb::resource();
    CHECK(r == gb::resource());
    for (std::size_t alignment = 1; alignment <= 65536; alignment *= 2) {
        for (std::size_t size : {std::size_t(0), std::size_t(1), std::size_t(100), std::size_t(100000)}) {
            void *p = r->allocate(size, alignment);
            CHECK(p != nullptr && reinterpret_cast<std::uintptr_t>(p) % alignment == 0);
            CHECK(from_gb(p));
            r->deallocate(p, size, alignment);
        }
    }
    gb::memory_resource other;
    CHECK(other.is_equal(*r) && r->is_equal(other));
    CHECK(!r->is_equal(*std::pmr::new_delete_resource()));
    bool threw = false;
    try {
        (void)r->allocate(static_cast<std::size_t>(PTRDIFF_MAX) + 1);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
}
}  // namespace

int main() {
    direct_allocations();
    containers(gb::resource(), 1);
    {
        std::pmr::unsynchronized_pool_resource pool(gb::resource());
        containers(&pool, 2);
    }
    {
        std::pmr::monotonic_buffer_resource arena(1 << 16, gb::resource());
        containers(&arena, 3);
    }
    std::pmr::synchronized_pool_resource shared_pool(gb::resource());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        std::pmr::memory_resource *r = t % 2 ? static_cast<std::pmr::memory_resource *>(gb::resource()) : &shared_pool;
        threads.emplace_back(containers, r, 10 + t);
    }
    for (auto &t : threads) t.join();
    if (gb_test_failures) return 1;
    std::printf("cpp_pmr: ok (%s)\n", gb_allocator_name());
    return 0;
}
