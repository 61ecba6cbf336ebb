/* SQLite in a heap: gb_sqlite3_install_heap(heap) before sqlite3_initialize
 * (refused with a NULL heap), an in-memory database whose every block is the
 * heap's (gb_heap_stats counts them), capped: an insert loop that passes the
 * cap fails with SQLITE_NOMEM and the heap never passes it; after
 * sqlite3_shutdown the heap is empty and destroyed. */
#include <sqlite3.h>

#include "graphbit_alloc_hooks.h"
#include "hooks_test.h"

static gb_heap_stats_t stats(const gb_heap_t *heap) {
    gb_heap_stats_t s;
    s.size = sizeof s;
    REQUIRE(gb_heap_stats(heap, &s) == 0);
    return s;
}

int main(void) {
    gb_hooks_start("hooks/sqlite_heap");
    const size_t cap = 8u << 20;
    gb_heap_t *heap = gb_heap_new(cap);
    REQUIRE(heap != NULL);
    CHECK(gb_sqlite3_install_heap(NULL) == SQLITE_MISUSE);
    REQUIRE(gb_sqlite3_install_heap(heap) == SQLITE_OK);
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK(gb_owns((char *)db - 8)); /* the block's start: its size prefix */
    CHECK(stats(heap).blocks > 0);
    char *text = sqlite3_mprintf("%s-%d", "heap", 7);
    CHECK(gb_owns((char *)text - 8));
    sqlite3_free(text);

    REQUIRE(sqlite3_exec(db, "CREATE TABLE t(a INTEGER, b TEXT)", NULL, NULL, NULL) == SQLITE_OK);
    int rc = SQLITE_OK;
    for (int i = 0; i < 1000000 && rc == SQLITE_OK; i++) {
        char *sql = sqlite3_mprintf("INSERT INTO t VALUES(%d, printf('%%.500c', 'x'))", i);
        if (sql == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        sqlite3_free(sql);
    }
    CHECK(rc == SQLITE_NOMEM || rc == SQLITE_FULL);
    gb_heap_stats_t s = stats(heap);
    CHECK(s.refused >= 1 && s.peak_allocated_bytes <= cap && s.peak_allocated_bytes > cap / 2);
    CHECK(sqlite3_close(db) == SQLITE_OK);
    CHECK(sqlite3_shutdown() == SQLITE_OK);
    s = stats(heap);
    CHECK(s.blocks == 0 && s.allocated_bytes == 0);
    gb_heap_destroy(heap);
    return gb_test_finish("hooks/sqlite_heap");
}
