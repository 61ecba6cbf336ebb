/*
 * gb-bench/scripts/hooks.sh's workloads: Lua 5.4 and SQLite, each with the library's own
 * allocator and with graphbit-alloc installed through its adapter
 * (gb_lua_alloc; graphbit_alloc_hooks.h's gb_sqlite3_install), in one
 * process per run.
 *
 * Usage: hooks_bench info (versions)
 *        hooks_bench lua default|gb ROUNDS [SCRIPT]
 *        hooks_bench lua-states default|gb|gb-heap|gb-heap-drop STATES
 *        hooks_bench sqlite default|gb|gb-usable ROWS
 *   lua default    luaL_newstate (Lua's l_alloc: the C library's realloc/free)
 *   lua gb         lua_newstate(gb_lua_alloc, NULL)
 *   lua-states     many short sandboxed Lua states, one after the other: each
 *                  opens the base, string, table and math libraries, runs a
 *                  small script (builds strings and tables) and ends:
 *     default      luaL_newstate, lua_close (realloc/free)
 *     gb           lua_newstate(gb_lua_alloc, NULL), lua_close (gb_free of each block)
 *     gb-heap      lua_newstate(gb_lua_alloc, heap) on a heap capped at 8 MiB,
 *                  lua_close, then gb_heap_destroy
 *     gb-heap-drop the same without lua_close: gb_heap_destroy frees the
 *                  abandoned state at once (gb_lua_alloc's contract allows it
 *                  when no finalizer must run; this script sets none)
 *   sqlite default SQLite's own allocator (Debian's: malloc, malloc_usable_size)
 *   sqlite gb      gb_sqlite3_install (the size in an 8-byte prefix, sized frees)
 *   sqlite gb-usable  the other way, measured against it: no prefix, xSize =
 *                  gb_usable_size, unsized frees, the same xRoundup
 * A size of 0 runs the set-up and tear-down only (for start-up costs).
 * SCRIPT: a Lua file run instead of the built-in script, with ROUNDS as its
 * argument and an integer result (gb-bench runs gb-bench/programs/churn.lua,
 * the built-in script's algorithm, which lua5.4 runs too).
 * Prints one line: the workload, the mode, a checksum of its results (equal
 * for every mode), the workload's wall time (set-up and tear-down included,
 * process start excluded), the peak RSS and the process's CPU time (user +
 * system, all threads: jemalloc's background thread included).
 */
#define _GNU_SOURCE
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "graphbit_alloc_hooks.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- Lua: strings built, split and dropped; tables grown, rehashed and
   emptied; about a third of the objects survive a round, the rest is
   garbage. */
static const char lua_script[] =
    "local rounds = ...\n"
    "local keep, sum = {}, 0\n"
    "for r = 1, rounds do\n"
    "  local parts = {}\n"
    "  for i = 1, 400 do parts[i] = string.format('%d:%s', i * r, string.rep('x', (i * 7 + r) % 48)) end\n"
    "  local text = table.concat(parts, ',')\n"
    "  local fields = {}\n"
    "  for w in text:gmatch('[^,]+') do fields[#fields + 1] = { w, #w } end\n"
    "  local index = {}\n"
    "  for i = 1, #fields do index[fields[i][1]] = i end\n"
    "  for i = 1, #fields, 3 do index[fields[i][1]] = nil end\n"
    "  local n = 0\n"
    "  for _, v in pairs(index) do n = n + v end\n"
    "  sum = (sum + n + #text) % 1000000007\n"
    "  keep[r % 97 + 1] = fields\n"
    "end\n"
    "return sum\n";

static int lua_panic(lua_State *L) {
    fprintf(stderr, "lua panic: %s\n", lua_tostring(L, -1));
    return 0;
}

static long long run_lua(int gb, long rounds, const char *script) {
    lua_State *L = gb ? lua_newstate(gb_lua_alloc, NULL) : luaL_newstate();
    if (L == NULL) exit(1);
    lua_atpanic(L, lua_panic);
    luaL_openlibs(L);
    if ((script ? luaL_loadfile(L, script) : luaL_loadstring(L, lua_script)) != LUA_OK) {
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    lua_pushinteger(L, rounds);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    long long sum = lua_tointeger(L, -1);
    lua_close(L);
    return sum;
}

/* ---- Lua states: a sandbox per script, as a host that runs many small
   untrusted scripts (a plugin call, a request handler) does. */
static const char state_script[] =
    "local n = ...\n"
    "local words, index, sum = {}, {}, 0\n"
    "for i = 1, 150 do words[i] = string.rep(string.char(97 + (i + n) % 26), (i * 7 + n) % 40) .. i end\n"
    "for i, w in ipairs(words) do index[w] = i end\n"
    "for k, v in pairs(index) do sum = sum + #k * v end\n"
    "local rows = {}\n"
    "for i = 1, 60 do rows[i] = { id = i, name = 'row' .. i, tags = { i, i * n % 97, words[i] } } end\n"
    "local text = table.concat(words, ',', 1, 40)\n"
    "table.sort(rows, function(a, b) return #a.tags[3] > #b.tags[3] end)\n"
    "return (sum + #text + rows[1].id + math.floor(n / 3)) % 1000000007\n";

enum { STATE_LIMIT = 8 << 20 };

static long long run_lua_states(const char *mode, long states) {
    int gb = strcmp(mode, "gb") == 0, heap = strcmp(mode, "gb-heap") == 0;
    int drop = strcmp(mode, "gb-heap-drop") == 0;
    if (!gb && !heap && !drop && strcmp(mode, "default") != 0) exit(2);
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math}};
    long long sum = 0;
    for (long i = 0; i < states; i++) {
        gb_heap_t *h = NULL;
        lua_State *L;
        if (heap || drop) {
            h = gb_heap_new(STATE_LIMIT);
            if (h == NULL) exit(1);
            L = lua_newstate(gb_lua_alloc, h);
        } else {
            L = gb ? lua_newstate(gb_lua_alloc, NULL) : luaL_newstate();
        }
        if (L == NULL) exit(1);
        lua_atpanic(L, lua_panic);
        for (size_t k = 0; k < sizeof libs / sizeof libs[0]; k++) {
            luaL_requiref(L, libs[k].name, libs[k].func, 1);
            lua_pop(L, 1);
        }
        if (luaL_loadstring(L, state_script) != LUA_OK) {
            fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
            exit(1);
        }
        lua_pushinteger(L, i);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
            fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
            exit(1);
        }
        sum = (sum + lua_tointeger(L, -1)) % 1000000007;
        if (!drop) lua_close(L);
        if (h) gb_heap_destroy(h);
    }
    return sum;
}

/* ---- SQLite: the methods gb_sqlite3_install does not use, measured
   against it. */
static void *usable_malloc(int size) { return gb_alloc((size_t)size); }
static void *usable_realloc(void *ptr, int size) { return gb_realloc(ptr, (size_t)size); }
static int usable_size(void *ptr) {
    size_t size = gb_usable_size(ptr);
    return size > INT_MAX ? INT_MAX : (int)size;
}
static int usable_backend;
static int usable_roundup(int size) {
    size_t rounded = gb_hooks_size_class(usable_backend, (size_t)(size > 0 ? size : 1));
    return rounded > INT_MAX ? 0 : (int)rounded;
}

static void exec(sqlite3 *db, const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, error ? error : "?");
        exit(1);
    }
}

static sqlite3_int64 query_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *stmt = NULL;
    sqlite3_int64 value = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) exit(1);
    if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

static long long run_sqlite(const char *mode, long rows) {
    if (strcmp(mode, "gb") == 0) {
        if (gb_sqlite3_install() != SQLITE_OK) exit(1);
    } else if (strcmp(mode, "gb-usable") == 0) {
        sqlite3_mem_methods m = gb_hooks_sqlite3_methods();
        usable_backend = gb_hooks_backend();
        m.xMalloc = usable_malloc;
        m.xFree = gb_free;
        m.xRealloc = usable_realloc;
        m.xSize = usable_size;
        m.xRoundup = usable_roundup;
        if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK) exit(1);
    } else if (strcmp(mode, "default") != 0) {
        exit(2);
    }
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) exit(1);
    exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload BLOB)");
    exec(db, "BEGIN");
    sqlite3_stmt *insert = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?, ?, ?, randomblob(?))", -1, &insert, NULL) != SQLITE_OK)
        exit(1);
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (long i = 1; i <= rows; i++) {
        char name[64];
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int len = snprintf(name, sizeof name, "name-%lu-%.*s", (unsigned long)(seed >> 40), (int)(seed >> 58),
                           "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl");
        sqlite3_bind_int64(insert, 1, i);
        sqlite3_bind_text(insert, 2, name, len, SQLITE_TRANSIENT);
        sqlite3_bind_int64(insert, 3, (sqlite3_int64)(seed >> 32) % 100);
        sqlite3_bind_int(insert, 4, (int)(seed >> 24) % 200);
        if (sqlite3_step(insert) != SQLITE_DONE) exit(1);
        sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    exec(db, "COMMIT");
    exec(db, "CREATE INDEX t_name ON t(name)");
    long long sum = query_int(db, "SELECT count(*) FROM t");
    sqlite3_stmt *lookup = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, length(payload) FROM t WHERE id = ?", -1, &lookup, NULL) != SQLITE_OK)
        exit(1);
    for (long i = 0; i < rows / 2; i++) {
        sqlite3_bind_int64(lookup, 1, 1 + (i * 7919) % (rows ? rows : 1));
        if (sqlite3_step(lookup) == SQLITE_ROW) sum += sqlite3_column_int64(lookup, 1);
        sqlite3_reset(lookup);
    }
    sqlite3_finalize(lookup);
    sum += query_int(db, "SELECT sum(c) FROM (SELECT grp, count(*) AS c, group_concat(name) AS names FROM t "
                         "GROUP BY grp ORDER BY length(names))");
    sum += query_int(db, "SELECT count(*) FROM (SELECT name FROM t ORDER BY name DESC)");
    sum += query_int(db, "SELECT sum(length(upper(name) || lower(name))) FROM t WHERE name LIKE '%a%'");
    exec(db, "UPDATE t SET name = name || '-' || grp WHERE id % 3 = 0");
    exec(db, "DELETE FROM t WHERE id % 2 = 0");
    sum += query_int(db, "SELECT count(*) FROM t");
    sqlite3_close(db);
    return sum;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "info") == 0) {
        printf("graphbit-alloc %s, backend %s %s; %s, SQLite %s\n", gb_version(), gb_allocator_name(),
               gb_allocator_version(), LUA_RELEASE, sqlite3_libversion());
        return 0;
    }
    if (argc != 4 && !(argc == 5 && strcmp(argv[1], "lua") == 0)) {
        fprintf(stderr,
                "usage: %s lua default|gb ROUNDS [SCRIPT] | lua-states default|gb|gb-heap|gb-heap-drop STATES"
                " | sqlite default|gb|gb-usable ROWS\n",
                argv[0]);
        return 2;
    }
    long size = atol(argv[3]);
    double start = now();
    long long checksum;
    if (strcmp(argv[1], "lua") == 0) checksum = run_lua(strcmp(argv[2], "gb") == 0, size, argc == 5 ? argv[4] : NULL);
    else if (strcmp(argv[1], "lua-states") == 0) checksum = run_lua_states(argv[2], size);
    else if (strcmp(argv[1], "sqlite") == 0) checksum = run_sqlite(argv[2], size);
    else return 2;
    double seconds = now() - start;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
    printf("%s %s checksum %lld seconds %.4f maxrss_kb %ld cpu %.4f\n", argv[1], argv[2], checksum, seconds,
           usage.ru_maxrss, cpu);
    return 0;
}
