/* zlib on graphbit-alloc: gb_zlib_install on a deflate (gzip) and an inflate
 * stream, 2 MiB of text compressed and decompressed in small chunks, the
 * result checked against the input and against a stream on zlib's default
 * allocator; each stream's state is a graphbit-alloc block. */
#include <zlib.h>

#include "graphbit_alloc_hooks.h"
#include "hooks_test.h"

enum { INPUT = 2 << 20, CHUNK = 4096 };

/* Runs `strm` (already initialized) over in[0..in_len) into a growing
   buffer; returns it (gb_alloc), its length in *out_len. */
static unsigned char *run(z_stream *strm, int deflating, const unsigned char *in, size_t in_len,
                          size_t *out_len) {
    size_t cap = CHUNK, len = 0;
    unsigned char *out = (unsigned char *)gb_alloc(cap);
    REQUIRE(out != NULL);
    size_t fed = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (strm->avail_in == 0 && fed < in_len) {
            size_t piece = in_len - fed < CHUNK ? in_len - fed : CHUNK;
            strm->next_in = (Bytef *)(in + fed);
            strm->avail_in = (uInt)piece;
            fed += piece;
        }
        if (cap - len < CHUNK) {
            cap *= 2;
            out = (unsigned char *)gb_realloc(out, cap);
            REQUIRE(out != NULL);
        }
        strm->next_out = out + len;
        strm->avail_out = CHUNK;
        rc = deflating ? deflate(strm, fed == in_len ? Z_FINISH : Z_NO_FLUSH) : inflate(strm, Z_NO_FLUSH);
        REQUIRE(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR);
        len += CHUNK - strm->avail_out;
        REQUIRE(rc != Z_BUF_ERROR || fed < in_len || strm->avail_out == 0);
    }
    *out_len = len;
    return out;
}

int main(void) {
    gb_hooks_start("hooks/zlib");
    CHECK(strcmp(zlibVersion(), ZLIB_VERSION) == 0);
    unsigned char *input = (unsigned char *)gb_alloc(INPUT);
    REQUIRE(input != NULL);
    size_t at = 0;
    for (int line = 0; at < INPUT; line++) {
        char text[64];
        int n = snprintf(text, sizeof text, "line %d: the quick brown fox %x\n", line, line * 2654435761u);
        for (int i = 0; i < n && at < INPUT; i++) input[at++] = (unsigned char)text[i];
    }

    z_stream d;
    memset(&d, 0, sizeof d);
    gb_zlib_install(&d);
    CHECK(d.zalloc == gb_hooks_zlib_alloc && d.zfree == gb_hooks_zlib_free);
    REQUIRE(deflateInit2(&d, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK); /* gzip */
    CHECK_OWNED(d.state);
    size_t packed_len = 0;
    unsigned char *packed = run(&d, 1, input, INPUT, &packed_len);
    CHECK(deflateEnd(&d) == Z_OK);
    CHECK(packed_len > 18 && packed_len < INPUT / 4);
    CHECK(packed[0] == 0x1f && packed[1] == 0x8b);

    for (int ours = 1; ours >= 0; ours--) { /* ours, then zlib's malloc */
        z_stream i;
        memset(&i, 0, sizeof i);
        if (ours) gb_zlib_install(&i);
        REQUIRE(inflateInit2(&i, 15 + 32) == Z_OK); /* zlib or gzip */
        if (ours) CHECK_OWNED(i.state);
        else CHECK_NOT_OWNED(i.state);
        size_t plain_len = 0;
        unsigned char *plain = run(&i, 0, packed, packed_len, &plain_len);
        CHECK(inflateEnd(&i) == Z_OK);
        CHECK(plain_len == INPUT && memcmp(plain, input, INPUT) == 0);
        CHECK(crc32(0, plain, (uInt)plain_len) == crc32(0, input, INPUT));
        gb_free(plain);
    }
    gb_free(packed);
    gb_free(input);
    return gb_test_finish("hooks/zlib");
}
