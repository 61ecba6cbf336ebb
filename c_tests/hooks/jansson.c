/* Jansson on graphbit-alloc: gb_jansson_install before anything else, a
 * document parsed and checked, 10,000 objects built, dumped (compared with
 * the text written here) and parsed back equal; values and the strings
 * json_dumps returns are graphbit-alloc blocks (released with gb_free). */
#include <jansson.h>

#include "graphbit_alloc_hooks.h"
#include "hooks_test.h"

int main(void) {
    gb_hooks_start("hooks/jansson");
    gb_jansson_install();
    json_malloc_t malloc_fn = NULL;
    json_free_t free_fn = NULL;
    json_get_alloc_funcs(&malloc_fn, &free_fn);
    CHECK(malloc_fn == gb_alloc && free_fn == gb_free);

    json_error_t error;
    json_t *doc = json_loads("{\"name\": \"graphbit\", \"list\": [1, 2, 3], \"nested\": {\"pi\": 3.5}}", 0,
                             &error);
    REQUIRE(doc != NULL);
    CHECK_OWNED(doc);
    const char *name = json_string_value(json_object_get(doc, "name"));
    REQUIRE(name != NULL);
    CHECK(strcmp(name, "graphbit") == 0);
    CHECK_OWNED(name);
    CHECK(json_array_size(json_object_get(doc, "list")) == 3);
    CHECK(json_integer_value(json_array_get(json_object_get(doc, "list"), 2)) == 3);
    CHECK(json_real_value(json_object_get(json_object_get(doc, "nested"), "pi")) == 3.5);
    json_decref(doc);

    enum { ITEMS = 10000 };
    json_t *items = json_array();
    REQUIRE(items != NULL);
    size_t cap = 64 << 10, len = 0;
    char *expected = (char *)gb_alloc(cap);
    REQUIRE(expected != NULL);
    expected[len++] = '[';
    for (int i = 0; i < ITEMS; i++) {
        char label[32];
        snprintf(label, sizeof label, "item-%d", i);
        REQUIRE(json_array_append_new(items, json_pack("{s:i, s:s, s:b}", "i", i, "s", label, "even", i % 2 == 0)) ==
                0);
        if (cap - len < 64) {
            cap *= 2;
            expected = (char *)gb_realloc(expected, cap);
            REQUIRE(expected != NULL);
        }
        len += (size_t)snprintf(expected + len, cap - len, "%s{\"even\":%s,\"i\":%d,\"s\":\"%s\"}", i ? "," : "",
                                i % 2 == 0 ? "true" : "false", i, label);
    }
    expected[len++] = ']';
    expected[len] = 0;
    char *dumped = json_dumps(items, JSON_COMPACT | JSON_SORT_KEYS);
    REQUIRE(dumped != NULL);
    CHECK_OWNED(dumped);
    CHECK(strcmp(dumped, expected) == 0);
    json_t *again = json_loads(dumped, 0, &error);
    REQUIRE(again != NULL);
    CHECK(json_equal(again, items));
    json_decref(again);
    gb_free(dumped); /* from the installed allocator */
    gb_free(expected);
    json_decref(items);
    return gb_test_finish("hooks/jansson");
}
