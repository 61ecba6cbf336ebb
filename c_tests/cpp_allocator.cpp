// gb::allocator<T> under load: std::vector, std::map, std::basic_string,
// std::list, std::unordered_map and std::deque driven by the same seeded
// random operations as their std::allocator twins, compared after every
// round; over-aligned types; allocator_traits; failures as exceptions;
// several threads at once.
#include <atomic>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "graphbit_alloc.hpp"
#include "gb_test.hpp"

namespace {

template <class T>
using gb_vector = std::vector<T, gb::allocator<T>>;
using gb_string = std::basic_string<char, std::char_traits<char>, gb::allocator<char>>;
template <class K, class V>
using gb_map = std::map<K, V, std::less<K>, gb::allocator<std::pair<const K, V>>>;
template <class K, class V>
using gb_unordered_map =
    std::unordered_map<K, V, std::hash<K>, std::equal_to<K>, gb::allocator<std::pair<const K, V>>>;

// The backend's own page map says whether a block is graphbit-alloc's; the
// system backend shares malloc and cannot tell.
bool from_gb(const void *p) {
    return std::string(gb_allocator_name()) == "system" || gb_owns(p);
}

uint64_t next(uint64_t &seed) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

struct alignas(64) Wide {
    unsigned char bytes[64];
    std::uint64_t tag;
};

void containers_under_load(uint64_t seed, int rounds) {
    gb_vector<std::uint64_t> vec;
    std::vector<std::uint64_t> vec_ref;
    gb_map<std::uint64_t, gb_string> map;
    std::map<std::uint64_t, std::string> map_ref;
    gb_unordered_map<std::uint64_t, std::uint64_t> hash;
    std::unordered_map<std::uint64_t, std::uint64_t> hash_ref;
    std::list<gb_string, gb::allocator<gb_string>> list;
    std::deque<std::uint64_t, gb::allocator<std::uint64_t>> deque;
    gb_vector<Wide> wide;

    for (int round = 0; round < rounds; ++round) {
        for (int op = 0; op < 2000; ++op) {
            uint64_t r = next(seed);
            uint64_t key = r % 5000;
            switch (r % 7) {
            case 0:
                vec.push_back(r);
                vec_ref.push_back(r);
                break;
            case 1:
                if (!vec.empty()) {
                    vec.pop_back();
                    vec_ref.pop_back();
                }
                break;
            case 2: {
                std::string text(static_cast<size_t>(r % 300), static_cast<char>('a' + r % 26));
                map[key] = gb_string(text.begin(), text.end());
                map_ref[key] = text;
                break;
            }
            case 3:
                map.erase(key);
                map_ref.erase(key);
                break;
            case 4:
                hash[key] += r;
                hash_ref[key] += r;
                break;
            case 5:
                list.emplace_back(static_cast<size_t>(r % 100), 'q');
                if (list.size() > 300) list.pop_front();
                deque.push_front(r);
                if (deque.size() > 3000) deque.pop_back();
                break;
            default:
                wide.push_back(Wide{{}, r});
                if (wide.size() > 500) wide.erase(wide.begin(), wide.begin() + 250);
            }
        }
        CHECK(std::equal(vec.begin(), vec.end(), vec_ref.begin(), vec_ref.end()));
        CHECK(map.size() == map_ref.size());
        auto it = map_ref.begin();
        for (const auto &entry : map) {
            CHECK(entry.first == it->first &&
                  std::string(entry.second.begin(), entry.second.end()) == it->second);
            ++it;
        }
        CHECK(hash.size() == hash_ref.size());
        for (const auto &entry : hash_ref) CHECK(hash.at(entry.first) == entry.second);
        CHECK(wide.empty() || reinterpret_cast<std::uintptr_t>(wide.data()) % 64 == 0);
        if (!vec.empty()) CHECK(from_gb(vec.data()));
        if (!wide.empty()) CHECK(from_gb(wide.data()));
        vec.shrink_to_fit();
    }
}

void traits_and_failures() {
    using traits = std::allocator_traits<gb::allocator<int>>;
    static_assert(std::is_same<traits::value_type, int>::value, "value_type");
    static_assert(std::is_same<traits::rebind_alloc<double>, gb::allocator<double>>::value, "rebind");
    static_assert(traits::is_always_equal::value, "stateless");
    CHECK(gb::allocator<int>() == gb::allocator<double>());
    CHECK(!(gb::allocator<int>() != gb::allocator<double>()));

    gb::allocator<std::uint64_t> a;
    std::uint64_t *p = a.allocate(1000);
    CHECK(p != nullptr && gb_usable_size(p) >= 1000 * sizeof(std::uint64_t));
    for (int i = 0; i < 1000; ++i) p[i] = static_cast<std::uint64_t>(i);
    gb::allocator<double> rebound(a);
    gb::allocator<std::uint64_t>(rebound).deallocate(p, 1000);  // any instance frees

    bool threw = false;
    try {
        (void)a.allocate(a.max_size() + 1);
    } catch (const std::bad_array_new_length &) {
        threw = true;
    }
    CHECK(threw);
    threw = false;
    try {
        (void)a.allocate(a.max_size());  // PTRDIFF_MAX bytes: the backend says no
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
    threw = false;
    try {
        gb_vector<char> huge;
        huge.reserve(huge.max_size() + 1);
    } catch (const std::length_error &) {
        threw = true;
    }
    CHECK(threw);

    gb_string s = "a string long enough to leave the small-string buffer";
    s += s;
    CHECK(s.size() == 2 * 53 && from_gb(s.data()));
}
}  // namespace

int main() {
    traits_and_failures();
    containers_under_load(0x9E3779B97F4A7C15ull, 20);
    std::vector<std::thread> threads;
    for (uint64_t t = 1; t <= 4; ++t) threads.emplace_back(containers_under_load, t * 7919, 8);
    for (auto &t : threads) t.join();
    if (gb_test_failures) return 1;
    std::printf("cpp_allocator: ok (%s)\n", gb_allocator_name());
    return 0;
}
