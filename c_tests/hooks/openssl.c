/* OpenSSL on graphbit-alloc: gb_openssl_install first in main, then digests,
 * big numbers and an AES-GCM round trip, checked against known answers;
 * contexts and strings OpenSSL returns are graphbit-alloc blocks. With the
 * argument "late", OpenSSL allocates first: the installer must return 0 and
 * OpenSSL must go on, correctly, on its own malloc. */
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "graphbit_alloc_hooks.h"
#include "hooks_test.h"

static void hex(const unsigned char *bytes, size_t len, char *out) {
    for (size_t i = 0; i < len; i++) sprintf(out + 2 * i, "%02x", bytes[i]);
}

int main(int argc, char **argv) {
    int late = argc > 1 && strcmp(argv[1], "late") == 0;
    gb_hooks_start(late ? "hooks/openssl late" : "hooks/openssl");
    if (late) {
        void *first = OPENSSL_malloc(16);
        OPENSSL_free(first);
        CHECK(gb_openssl_install() == 0); /* refused: OpenSSL keeps malloc */
    } else {
        REQUIRE(gb_openssl_install() == 1);
    }
#define CHECK_OURS(ptr) do { if (late) CHECK_NOT_OWNED(ptr); else CHECK_OWNED(ptr); } while (0)

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    char text[2 * EVP_MAX_MD_SIZE + 1];
    REQUIRE(EVP_Digest("abc", 3, digest, &digest_len, EVP_sha256(), NULL) == 1);
    hex(digest, digest_len, text);
    CHECK(strcmp(text, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);

    EVP_MD_CTX *md = EVP_MD_CTX_new();
    REQUIRE(md != NULL);
    CHECK_OURS(md);
    unsigned char million[1000];
    memset(million, 'a', sizeof million);
    REQUIRE(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
    for (int i = 0; i < 1000; i++) REQUIRE(EVP_DigestUpdate(md, million, sizeof million) == 1);
    REQUIRE(EVP_DigestFinal_ex(md, digest, &digest_len) == 1);
    hex(digest, digest_len, text); /* SHA-256 of a million 'a' (FIPS 180-2) */
    CHECK(strcmp(text, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
    EVP_MD_CTX_free(md);

    BN_CTX *bn = BN_CTX_new();
    BIGNUM *two = BN_new(), *power = BN_new(), *exponent = BN_new();
    REQUIRE(bn && two && power && exponent);
    CHECK_OURS(two);
    REQUIRE(BN_set_word(two, 2) && BN_set_word(exponent, 100));
    REQUIRE(BN_exp(power, two, exponent, bn) == 1);
    char *decimal = BN_bn2dec(power);
    REQUIRE(decimal != NULL);
    CHECK(strcmp(decimal, "1267650600228229401496703205376") == 0);
    CHECK_OURS(decimal);
    OPENSSL_free(decimal);
    BN_free(two);
    BN_free(power);
    BN_free(exponent);
    BN_CTX_free(bn);

    unsigned char key[32], iv[12], tag[16], plain[4096], sealed[4096], opened[4096];
    for (size_t i = 0; i < sizeof key; i++) key[i] = (unsigned char)i;
    memset(iv, 7, sizeof iv);
    gb_fill(plain, sizeof plain, "aes");
    int len = 0, total = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    REQUIRE(c != NULL);
    CHECK_OURS(c);
    REQUIRE(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv) == 1);
    REQUIRE(EVP_EncryptUpdate(c, sealed, &len, plain, sizeof plain) == 1);
    total = len;
    REQUIRE(EVP_EncryptFinal_ex(c, sealed + total, &len) == 1);
    total += len;
    REQUIRE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, sizeof tag, tag) == 1);
    CHECK(total == (int)sizeof plain && memcmp(sealed, plain, sizeof plain) != 0);
    REQUIRE(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv) == 1);
    REQUIRE(EVP_DecryptUpdate(c, opened, &len, sealed, total) == 1);
    REQUIRE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, sizeof tag, tag) == 1);
    CHECK(EVP_DecryptFinal_ex(c, opened + len, &len) == 1); /* the tag verifies */
    CHECK(memcmp(opened, plain, sizeof plain) == 0);
    EVP_CIPHER_CTX_free(c);

    char *copy = OPENSSL_strdup("graphbit");
    REQUIRE(copy != NULL);
    CHECK(strcmp(copy, "graphbit") == 0);
    CHECK_OURS(copy);
    copy = (char *)OPENSSL_realloc(copy, 100000);
    REQUIRE(copy != NULL);
    CHECK(strcmp(copy, "graphbit") == 0);
    OPENSSL_free(copy);
    return gb_test_finish(late ? "hooks/openssl late" : "hooks/openssl");
}
