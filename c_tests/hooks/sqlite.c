/* SQLite on graphbit-alloc: gb_sqlite3_install before sqlite3_initialize (and
 * refused after it), an in-memory database with many rows inserted, indexed,
 * queried, updated and deleted, and the results checked; SQLite's memory
 * accounting returns to where it started (xSize agrees with itself); blocks
 * from sqlite3_malloc and sqlite3_mprintf are graphbit-alloc's; xRoundup
 * returns sizes that are at least the request and, on jemalloc and mimalloc,
 * exactly the backend's size class (no slack left unused). */
#include <limits.h>
#include <sqlite3.h>

#include "graphbit_alloc_hooks.h"
#include "hooks_test.h"

static sqlite3_int64 query_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *stmt = NULL;
    sqlite3_int64 value = -1;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK);
    if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    CHECK(sqlite3_finalize(stmt) == SQLITE_OK);
    return value;
}

static void exec(sqlite3 *db, const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, error ? error : "?");
        exit(1);
    }
}

/* xRoundup against the backend: for every size SQLite could ask, a block of
   the rounded size says that size (xSize) and, where this header knows the
   backend's classes exactly, has no usable bytes beyond it. */
static void check_roundup(const sqlite3_mem_methods *m) {
    int exact = gb_hooks_owns_known(); /* jemalloc, mimalloc */
    for (int n = 1; n <= 64 << 20; n += n < 20000 ? 1 : n < 600000 ? 97 : 65537) {
        int r = m->xRoundup(n);
        CHECK(r >= n);
        void *p = m->xMalloc(r);
        REQUIRE(p != NULL);
        CHECK(m->xSize(p) == r);
        size_t usable = gb_usable_size((char *)p - 8); /* the size prefix */
        if (exact && n <= 500000) {
            if (usable != (size_t)r + 8) {
                fprintf(stderr, "xRoundup(%d) = %d, block of %zu\n", n, r, usable);
                CHECK(usable == (size_t)r + 8);
            }
        } else {
            CHECK(usable >= (size_t)r + 8);
        }
        m->xFree(p);
    }
    CHECK(m->xRoundup(0x7fffff00) >= 0x7fffff00); /* SQLite's largest request */
    CHECK(m->xRoundup(INT_MAX) == 0);             /* does not fit an int: fails */
}

int main(void) {
    gb_hooks_start("hooks/sqlite");
    REQUIRE(gb_sqlite3_install() == SQLITE_OK);
    sqlite3_mem_methods m;
    REQUIRE(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &m) == SQLITE_OK);
    CHECK(m.xMalloc == gb_hooks_sqlite3_malloc && m.xSize == gb_hooks_sqlite3_size);
    REQUIRE(sqlite3_initialize() == SQLITE_OK);
    CHECK(gb_sqlite3_install() == SQLITE_MISUSE); /* too late: refused */
    sqlite3_int64 used_at_start = sqlite3_memory_used();

    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK_OWNED(db);
    exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, value REAL, blob BLOB)");
    exec(db, "BEGIN");
    sqlite3_stmt *insert = NULL;
    REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?, ?, ?, zeroblob(?))", -1, &insert, NULL) ==
            SQLITE_OK);
    const int rows = 50000;
    for (int i = 1; i <= rows; i++) {
        char name[32];
        snprintf(name, sizeof name, "row-%d", i);
        sqlite3_bind_int(insert, 1, i);
        sqlite3_bind_text(insert, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(insert, 3, i * 0.5);
        sqlite3_bind_int(insert, 4, i % 300);
        CHECK(sqlite3_step(insert) == SQLITE_DONE);
        sqlite3_reset(insert);
    }
    CHECK(sqlite3_finalize(insert) == SQLITE_OK);
    exec(db, "COMMIT");
    exec(db, "CREATE INDEX t_name ON t(name)");

    CHECK(query_int(db, "SELECT count(*) FROM t") == rows);
    CHECK(query_int(db, "SELECT sum(value * 2) FROM t") == (sqlite3_int64)rows * (rows + 1) / 2);
    CHECK(query_int(db, "SELECT sum(length(blob)) FROM t") > 0);
    CHECK(query_int(db, "SELECT id FROM t WHERE name = 'row-12345'") == 12345);
    CHECK(query_int(db, "SELECT length(group_concat(name, ',')) FROM (SELECT name FROM t ORDER BY name DESC LIMIT 1000)") > 0);
    exec(db, "UPDATE t SET name = name || '-updated' WHERE id % 3 = 0");
    CHECK(query_int(db, "SELECT count(*) FROM t WHERE name LIKE '%-updated'") == rows / 3);
    exec(db, "DELETE FROM t WHERE id % 2 = 0");
    CHECK(query_int(db, "SELECT count(*) FROM t") == rows / 2);

    char *text = sqlite3_mprintf("%s-%d-%q", "gb", 42, "it's");
    REQUIRE(text != NULL);
    CHECK(strcmp(text, "gb-42-it''s") == 0);
    CHECK_OWNED(text);
    sqlite3_free(text);
    unsigned char *block = (unsigned char *)sqlite3_malloc(1000);
    REQUIRE(block != NULL);
    CHECK_OWNED(block);
    CHECK(sqlite3_msize(block) >= 1000);
    gb_fill(block, 1000, "key");
    block = (unsigned char *)sqlite3_realloc(block, 100000);
    REQUIRE(block != NULL);
    CHECK(gb_intact(block, 1000, "key"));
    CHECK(sqlite3_msize(block) >= 100000);
    sqlite3_free(block);

    CHECK(sqlite3_close(db) == SQLITE_OK);
    CHECK(sqlite3_memory_used() == used_at_start);
    check_roundup(&m);
    CHECK(sqlite3_shutdown() == SQLITE_OK);
    return gb_test_finish("hooks/sqlite");
}
