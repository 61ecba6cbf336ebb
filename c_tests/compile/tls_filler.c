/* A plugin with 1.4 KiB of initial-exec thread-local data: loading it with
 * dlopen takes most of glibc's static TLS reserve (tests/c_programs.rs). */
__attribute__((tls_model("initial-exec"))) __thread char gb_tls_filler[1400];
char *gb_tls_filler_touch(void);
char *gb_tls_filler_touch(void) {
    gb_tls_filler[0] = 1;
    return gb_tls_filler;
}
