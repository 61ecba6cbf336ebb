/* A library with a large TLS block (global-dynamic model), for
 * override_threads.c: glibc gives each thread that touches it a block
 * allocated with malloc (dynamic TLS), freed with free at thread exit. */
static __thread char tls_block[256 * 1024];

int touch_tls(int value) {
    for (int i = 0; i < (int)sizeof tls_block; i += 4096) tls_block[i] = (char)value;
    int sum = 0;
    for (int i = 0; i < (int)sizeof tls_block; i += 4096) sum += tls_block[i];
    return sum;
}
