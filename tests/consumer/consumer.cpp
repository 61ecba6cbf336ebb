// The C++ header from an installed graphbit-alloc: containers on
// gb::allocator, a pmr container on gb::resource(), gb::make_unique.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "graphbit_alloc.hpp"

int main() {
    using gb_string = std::basic_string<char, std::char_traits<char>, gb::allocator<char>>;
    std::vector<int, gb::allocator<int>> numbers;
    std::map<int, gb_string, std::less<int>, gb::allocator<std::pair<const int, gb_string>>> names;
    for (int i = 0; i < 10000; i++) {
        numbers.push_back(i);
        names.emplace(i, gb_string(40, static_cast<char>('a' + i % 26)));
    }
    long sum = 0;
    for (int n : numbers) sum += n;
    std::pmr::vector<std::pmr::string> words(gb::resource());
    for (int i = 0; i < 1000; i++) words.emplace_back(100, 'x');
    auto box = gb::make_unique<std::vector<int>>(100, 3);
    bool ok = sum == 10000L * 9999 / 2 && names.size() == 10000 && names[25][0] == 'z' &&
              words[999].size() == 100 && (*box)[99] == 3 &&
              std::strcmp(gb_allocator_name(), GB_EXPECT_BACKEND) == 0;
    if (!ok) {
        std::fprintf(stderr, "consumer_cpp: FAILED\n");
        return 1;
    }
    std::printf("consumer_cpp: ok (%s)\n", gb_allocator_name());
    return 0;
}
