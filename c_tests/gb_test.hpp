// Shared helper for the C++ tests: CHECK() reports the failing file and line,
// from any thread, and counts the failure; main() returns 1 if there was one.
#ifndef GB_TEST_HPP
#define GB_TEST_HPP

#include <atomic>
#include <cstdio>

static std::atomic<int> gb_test_failures{0};  // CHECK may fail on several threads at once

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);    \
            ++gb_test_failures;                                                              \
        }                                                                                    \
    } while (0)

#endif
