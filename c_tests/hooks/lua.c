/* Lua 5.4 on graphbit-alloc: lua_newstate(gb_lua_alloc, NULL) (no installer:
 * the adapter is lua_Alloc itself), the standard libraries, and a script that
 * churns strings and tables (growing buffers, rehashing, collection). Its
 * results are checked; the state, a userdata and a string Lua hands back are
 * graphbit-alloc blocks. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "hooks_test.h"

static const char script[] =
    "local t = {}\n"
    "for i = 1, 20000 do t[i] = string.format('item-%d-%s', i, string.rep('x', i % 50)) end\n"
    "local total = 0\n"
    "for i = 1, #t do total = total + #t[i] end\n"
    "local words = 0\n"
    "for _ in string.gmatch(table.concat(t, ' ', 1, 1000), '%S+') do words = words + 1 end\n"
    "local m = {}\n"
    "for i = 1, 10000 do m['k' .. i] = { i, tostring(i) } end\n"
    "local sum = 0\n"
    "for _, v in pairs(m) do sum = sum + v[1] end\n"
    "for i = 1, 10000, 2 do m['k' .. i] = nil end\n"
    "t = nil\n"
    "collectgarbage()\n"
    "local left = 0\n"
    "for _ in pairs(m) do left = left + 1 end\n"
    "local big = string.rep('ab', 500000)\n"
    "return total, words, sum, left, #big, (big:gsub('ab', 'c')):len()\n";

static long digits(long i) {
    long n = 1;
    while (i >= 10) i /= 10, n++;
    return n;
}

int main(void) {
    gb_hooks_start("hooks/lua");
    lua_State *L = lua_newstate(gb_lua_alloc, NULL);
    REQUIRE(L != NULL);
    CHECK_OWNED(L);
    void *ud = (void *)1;
    CHECK(lua_getallocf(L, &ud) == gb_lua_alloc && ud == NULL);
    luaL_openlibs(L);

    if (luaL_dostring(L, script) != LUA_OK) {
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
        return 1;
    }
    long total = 0;
    for (long i = 1; i <= 20000; i++) total += 5 + digits(i) + 1 + i % 50;
    CHECK(lua_gettop(L) == 6);
    CHECK(lua_tointeger(L, 1) == total);
    CHECK(lua_tointeger(L, 2) == 1000);
    CHECK(lua_tointeger(L, 3) == 50005000);
    CHECK(lua_tointeger(L, 4) == 5000);
    CHECK(lua_tointeger(L, 5) == 1000000);
    CHECK(lua_tointeger(L, 6) == 500000);
    lua_settop(L, 0);

    unsigned char *block = (unsigned char *)lua_newuserdatauv(L, 4096, 0);
    REQUIRE(block != NULL);
    CHECK_OWNED(block);
    gb_fill(block, 4096, block);
    const char *text = lua_pushfstring(L, "%s %d, long enough not to be a short string", "graphbit", 42);
    CHECK_OWNED(text);
    CHECK(strcmp(text, "graphbit 42, long enough not to be a short string") == 0);
    int before = lua_gc(L, LUA_GCCOUNT, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    CHECK(gb_intact(block, 4096, block)); /* still referenced from the stack */
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    CHECK(lua_gc(L, LUA_GCCOUNT, 0) < before); /* the userdata was freed */
    lua_close(L);
    return gb_test_finish("hooks/lua");
}
