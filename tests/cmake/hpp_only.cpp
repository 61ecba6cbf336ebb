// graphbit_alloc.hpp on its own, compiled with -Wall -Wextra -Werror -pedantic
// in C++11, 14, 17 and 20, with the global operator new/delete replacement
// expanded (only compiled here, never linked into a program).
#define GB_REPLACE_GLOBAL_NEW
#include "graphbit_alloc.hpp"

#include <vector>

int gb_hpp_only();
int gb_hpp_only() {
    std::vector<int, gb::allocator<int>> v(3, 1);
    return v[0];
}
