/* Lua 5.4 in a heap: lua_newstate(gb_lua_alloc, heap). Every block of the
 * state is the heap's (gb_owns, gb_heap_stats counts them); a script that
 * grows past the heap's cap gets a Lua memory error, and the state stays
 * usable; an abandoned state is freed all at once by gb_heap_destroy. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "hooks_test.h"

static gb_heap_stats_t stats(const gb_heap_t *heap) {
    gb_heap_stats_t s;
    s.size = sizeof s;
    REQUIRE(gb_heap_stats(heap, &s) == 0);
    return s;
}

int main(void) {
    gb_hooks_start("hooks/lua_heap");
    const size_t cap = 4u << 20;
    gb_heap_t *heap = gb_heap_new(cap);
    REQUIRE(heap != NULL);
    lua_State *L = lua_newstate(gb_lua_alloc, heap);
    REQUIRE(L != NULL);
    /* Every backend knows its heaps' blocks (the system backend by the address
       the allocation returned: L is LUA_EXTRASPACE bytes into its block). */
    CHECK(gb_owns((char *)L - LUA_EXTRASPACE));
    luaL_openlibs(L);
    gb_heap_stats_t s = stats(heap);
    CHECK(s.blocks > 100 && s.allocated_bytes > 10000 && s.allocated_bytes <= cap);

    /* A table that grows without end: stopped by the cap, as a memory error. */
    REQUIRE(luaL_loadstring(L, "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 100) .. i end") ==
            LUA_OK);
    int rc = lua_pcall(L, 0, 0, 0);
    if (rc != LUA_ERRMEM) fprintf(stderr, "lua: status %d: %s\n", rc, lua_tostring(L, -1));
    CHECK(rc == LUA_ERRMEM);
    s = stats(heap);
    CHECK(s.refused >= 1 && s.allocated_bytes <= cap && s.peak_allocated_bytes <= cap);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    /* The state goes on once the garbage is collected. */
    CHECK(luaL_dostring(L, "return #string.rep('ab', 1000)") == LUA_OK);
    CHECK(lua_tointeger(L, -1) == 2000);
    CHECK(stats(heap).allocated_bytes < cap / 2);

    /* Abandoned without lua_close: the heap frees it all. */
    gb_heap_destroy(heap);

    /* A closed state leaves an empty heap. */
    heap = gb_heap_new(0);
    REQUIRE(heap != NULL);
    L = lua_newstate(gb_lua_alloc, heap);
    REQUIRE(L != NULL);
    luaL_openlibs(L);
    CHECK(luaL_dostring(L, "local s = 0 for i = 1, 10000 do s = s + #tostring(i) end return s") == LUA_OK);
    lua_close(L);
    s = stats(heap);
    CHECK(s.blocks == 0 && s.allocated_bytes == 0);
    gb_heap_destroy(heap);
    return gb_test_finish("hooks/lua_heap");
}
