/* include/graphbit_alloc_hooks.h compiled strictly (-Wall -Wextra -Werror
 * -pedantic), as C here and as C++ through hooks_header.cpp (tests/
 * c_programs.rs: hooks_header_compiles_alone_and_after_each_library):
 *   - alone (no GB_WITH_*): it needs no library header, and has no section;
 *   - after one library's header (-DGB_WITH_SQLITE3, ...): that section only;
 *   - with every GB_WITH_* and -DGB_HOOKS_FIRST: included before the library
 *     headers (no section) and again after them (every section). */
#ifdef GB_HOOKS_FIRST
#include "graphbit_alloc_hooks.h"
#if defined(GRAPHBIT_ALLOC_HOOKS_SQLITE3) || defined(GRAPHBIT_ALLOC_HOOKS_ZLIB) || \
    defined(GRAPHBIT_ALLOC_HOOKS_OPENSSL) || defined(GRAPHBIT_ALLOC_HOOKS_CURL) ||  \
    defined(GRAPHBIT_ALLOC_HOOKS_XML) || defined(GRAPHBIT_ALLOC_HOOKS_JANSSON)
#error "a section was compiled before its library's header"
#endif
#endif

#ifdef GB_WITH_LUA
#ifdef __cplusplus
#include <lua.hpp>
#else
#include <lua.h>
#endif
#endif
#ifdef GB_WITH_SQLITE3
#include <sqlite3.h>
#endif
#ifdef GB_WITH_ZLIB
#include <zlib.h>
#endif
#ifdef GB_WITH_OPENSSL
#include <openssl/crypto.h>
#endif
#ifdef GB_WITH_CURL
#include <curl/curl.h>
#endif
#ifdef GB_WITH_XML
#include <libxml/xmlmemory.h>
#endif
#ifdef GB_WITH_JANSSON
#include <jansson.h>
#endif

#include "graphbit_alloc_hooks.h"

/* Each section is there exactly when its library's header is. */
#if defined(GRAPHBIT_ALLOC_HOOKS_SQLITE3) != defined(GB_WITH_SQLITE3) || \
    defined(GRAPHBIT_ALLOC_HOOKS_ZLIB) != defined(GB_WITH_ZLIB) ||       \
    defined(GRAPHBIT_ALLOC_HOOKS_OPENSSL) != defined(GB_WITH_OPENSSL) || \
    defined(GRAPHBIT_ALLOC_HOOKS_CURL) != defined(GB_WITH_CURL) ||       \
    defined(GRAPHBIT_ALLOC_HOOKS_XML) != defined(GB_WITH_XML) ||         \
    defined(GRAPHBIT_ALLOC_HOOKS_JANSSON) != defined(GB_WITH_JANSSON)
#error "a section does not follow its library's header"
#endif

/* Every installer, with the type its documentation gives. */
int gb_hooks_header_check(void);
int gb_hooks_header_check(void) {
    int found = 0;
#ifdef GB_WITH_LUA
    lua_Alloc lua = gb_lua_alloc;
    found += lua != NULL;
#endif
#ifdef GB_WITH_SQLITE3
    int (*sqlite)(void) = gb_sqlite3_install;
    found += sqlite != NULL;
#endif
#ifdef GB_WITH_ZLIB
    void (*zlib)(z_stream *) = gb_zlib_install;
    found += zlib != NULL;
#endif
#ifdef GB_WITH_OPENSSL
    int (*openssl)(void) = gb_openssl_install;
    found += openssl != NULL;
#endif
#ifdef GB_WITH_CURL
    CURLcode (*curl)(long) = gb_curl_global_init;
    found += curl != NULL;
#endif
#ifdef GB_WITH_XML
    int (*xml)(void) = gb_xml_install;
    found += xml != NULL;
#endif
#ifdef GB_WITH_JANSSON
    void (*jansson)(void) = gb_jansson_install;
    found += jansson != NULL;
#endif
    return found;
}
