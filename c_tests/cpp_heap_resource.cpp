// gb::heap_resource: std::pmr containers in a heap, counted by gb_heap_stats;
// a cap that throws std::bad_alloc; release() frees everything and starts
// over; the destructor frees what is left.
#include <cstdint>
#include <cstdio>
#include <memory_resource>
#include <new>
#include <string>
#include <vector>

#include "graphbit_alloc.hpp"
#include "gb_test.hpp"

int main() {
    {
        gb::heap_resource heap;
        std::pmr::vector<std::pmr::string> words(&heap);
        for (int i = 0; i < 10000; ++i) words.emplace_back(100, static_cast<char>('a' + i % 26));
        CHECK(gb_owns(words.data()) && gb_owns(words.back().data()));
        gb_heap_stats_t s = heap.stats();
        CHECK(s.blocks >= 10000 && s.allocated_bytes >= 10000 * 100);
        CHECK(heap.is_equal(heap) && !heap.is_equal(*std::pmr::new_delete_resource()));
        void *aligned = heap.allocate(100, 4096);
        CHECK(reinterpret_cast<std::uintptr_t>(aligned) % 4096 == 0);
        heap.deallocate(aligned, 100, 4096);
        words.clear();
        words.shrink_to_fit();
        CHECK(heap.stats().blocks == 0);
    }
    {
        gb::heap_resource capped(1 << 20);
        CHECK(capped.limit() == 1 << 20);
        std::pmr::vector<char> grow(&capped);
        bool threw = false;
        try {
            for (;;) grow.push_back('x');
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        CHECK(threw && grow.size() >= (1 << 18) && grow.size() <= (1 << 20));
        CHECK(capped.stats().allocated_bytes <= (1 << 20));
        // release(): everything goes at once (the vector must not free it
        // again, so it is abandoned first).
        new (&grow) std::pmr::vector<char>(&capped);
        capped.release();
        CHECK(capped.stats().blocks == 0 && capped.limit() == 1 << 20);
        std::pmr::vector<int> again({1, 2, 3}, &capped);
        CHECK(again.size() == 3 && capped.stats().blocks == 1);
        // `again` is freed by its destructor, before the resource's.
    }
    if (gb_test_failures) return 1;
    std::printf("cpp_heap_resource: ok\n");
    return 0;
}
