/* Shared helpers for the C tests: CHECK() reports the failing line and makes
 * the program exit non-zero at the end; every test is a plain C program. */
#ifndef GB_TEST_H
#define GB_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int gb_test_failures = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            gb_test_failures++;                                              \
        }                                                                    \
    } while (0)

/* Like CHECK, but stops the program: for states where going on is pointless. */
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                    \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static inline int gb_test_finish(const char *name) {
    if (gb_test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, gb_test_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

/* A byte pattern derived from a block's address, its size and the offset, so
 * that a block written over by another block (or moved without its contents)
 * is detected. */
static inline unsigned char gb_pattern(const void *block, size_t size, size_t i) {
    uintptr_t x = (uintptr_t)block ^ (size * 0x9E3779B97F4A7C15ull) ^ (i * 0x100000001B3ull);
    return (unsigned char)(x ^ (x >> 17) ^ (x >> 31));
}

static inline void gb_fill(void *block, size_t size, const void *key) {
    unsigned char *bytes = (unsigned char *)block;
    for (size_t i = 0; i < size; i++) bytes[i] = gb_pattern(key, size, i);
}

/* Checks the first `prefix` bytes of a block filled by gb_fill(.., size, key). */
static inline int gb_intact_prefix(const void *block, size_t prefix, size_t size, const void *key) {
    const unsigned char *bytes = (const unsigned char *)block;
    for (size_t i = 0; i < prefix; i++)
        if (bytes[i] != gb_pattern(key, size, i)) return 0;
    return 1;
}

static inline int gb_intact(const void *block, size_t size, const void *key) {
    return gb_intact_prefix(block, size, size, key);
}

/* xorshift64*: a small seeded generator so runs are reproducible. */
static inline uint64_t gb_rand(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

#endif
