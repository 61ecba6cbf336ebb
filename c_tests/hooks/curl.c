/* libcurl on graphbit-alloc, without the network: gb_curl_global_init, URL
 * escaping and parsing (CURLU), and a file:// transfer of a temporary file,
 * each result checked; the handles and strings libcurl returns are
 * graphbit-alloc blocks. */
#include <curl/curl.h>
#include <unistd.h>

#include "graphbit_alloc_hooks.h"
#include "hooks_test.h"

struct sink {
    unsigned char *data;
    size_t len;
};

static size_t collect(char *bytes, size_t size, size_t count, void *user) {
    struct sink *sink = (struct sink *)user;
    size_t n = size * count;
    unsigned char *grown = (unsigned char *)gb_realloc(sink->data, sink->len + n);
    if (grown == NULL) return 0;
    memcpy(grown + sink->len, bytes, n);
    sink->data = grown;
    sink->len += n;
    return n;
}

/* Part `part` of `url` equals `expected`, in a string libcurl allocated. */
static void check_part(CURLU *url, CURLUPart part, const char *expected) {
    char *value = NULL;
    CHECK(curl_url_get(url, part, &value, 0) == CURLUE_OK);
    if (value == NULL) return;
    if (strcmp(value, expected) != 0) fprintf(stderr, "part %d: %s, not %s\n", (int)part, value, expected);
    CHECK(strcmp(value, expected) == 0);
    CHECK_OWNED(value);
    curl_free(value);
}

int main(void) {
    gb_hooks_start("hooks/curl");
    REQUIRE(gb_curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    CURL *curl = curl_easy_init();
    REQUIRE(curl != NULL);
    CHECK_OWNED(curl);

    char *escaped = curl_easy_escape(curl, "a b&c/d\xc3\xa9", 0);
    REQUIRE(escaped != NULL);
    CHECK(strcmp(escaped, "a%20b%26c%2Fd%C3%A9") == 0);
    CHECK_OWNED(escaped);
    int plain_len = 0;
    char *plain = curl_easy_unescape(curl, escaped, 0, &plain_len);
    REQUIRE(plain != NULL);
    CHECK(plain_len == 9 && strcmp(plain, "a b&c/d\xc3\xa9") == 0);
    CHECK_OWNED(plain);
    curl_free(plain);
    curl_free(escaped);

    CURLU *url = curl_url();
    REQUIRE(url != NULL);
    CHECK_OWNED(url);
    REQUIRE(curl_url_set(url, CURLUPART_URL, "https://user:pw@Example.com:8443/a/b/../c?x=1&y=2#top", 0) ==
            CURLUE_OK);
    check_part(url, CURLUPART_HOST, "Example.com");
    check_part(url, CURLUPART_PORT, "8443");
    check_part(url, CURLUPART_PATH, "/a/c");
    check_part(url, CURLUPART_QUERY, "x=1&y=2");
    check_part(url, CURLUPART_FRAGMENT, "top");
    check_part(url, CURLUPART_USER, "user");
    REQUIRE(curl_url_set(url, CURLUPART_URL, "../d?z=3", 0) == CURLUE_OK); /* relative to the last */
    check_part(url, CURLUPART_URL, "https://user:pw@Example.com:8443/d?z=3");
    curl_url_cleanup(url);

    /* A file:// transfer: the whole easy-handle machinery, no network. */
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/gb-hooks-curl-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    enum { SIZE = 300000 };
    unsigned char *content = (unsigned char *)gb_alloc(SIZE);
    REQUIRE(content != NULL);
    gb_fill(content, SIZE, "curl");
    REQUIRE(write(fd, content, SIZE) == SIZE);
    close(fd);
    char file_url[4200];
    snprintf(file_url, sizeof file_url, "file://%s", path);
    struct sink sink = {NULL, 0};
    CHECK(curl_easy_setopt(curl, CURLOPT_URL, file_url) == CURLE_OK);
    CHECK(curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect) == CURLE_OK);
    CHECK(curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink) == CURLE_OK);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) fprintf(stderr, "curl_easy_perform: %s\n", curl_easy_strerror(rc));
    CHECK(rc == CURLE_OK);
    CHECK(sink.len == SIZE && sink.data != NULL && gb_intact(sink.data, SIZE, "curl"));
    curl_off_t downloaded = 0;
    CHECK(curl_easy_getinfo(curl, CURLINFO_SIZE_DOWNLOAD_T, &downloaded) == CURLE_OK);
    CHECK(downloaded == SIZE);
    unlink(path);
    gb_free(sink.data);
    gb_free(content);

    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return gb_test_finish("hooks/curl");
}
