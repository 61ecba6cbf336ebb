/* The two functions of the C math library that jemalloc's profiler calls:
 * `log` (prof.c: the geometric distance to the next sampled byte) and `exp`
 * (prof_data.c: the unbiasing table it fills at start-up). Only the profiling
 * builds compile them (GB_PROFILING); their shared libraries are linked with
 * `--defsym=log=graphbit_alloc_log,--defsym=exp=graphbit_alloc_exp`
 * (build.rs), so that they do not need libm.so.6: loading it put about
 * 0.5 MiB of its pages into the resident set of every process that loaded the
 * library (its own IFUNC relocations touch much of its code at load time;
 * docs/profiling.md, Cost). Hidden: not exported, and not the program's `log`.
 * The static libraries keep jemalloc's references to libm (a program linking
 * one passes -lm, as pkg-config says).
 *
 * Both are correct to a few units in the last place over the whole double
 * range, with C's answers for 0, negatives, infinities and NaN (tested
 * against Rust's f64::ln and f64::exp in src/backend/jemalloc.rs). */
#include <stdint.h>
#include <string.h>

static double from_bits(uint64_t bits) {
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

static uint64_t to_bits(double x) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

/* 2^k for a normal double's exponent, -1022 <= k <= 1023. */
static double power_of_two(int k) {
    return from_bits((uint64_t)(k + 1023) << 52);
}

/* ln 2 in two parts: the high one has trailing zero bits, so that k * hi is
 * exact for any exponent k the two functions meet. */
static const double ln2_hi = 6.93147180369123816490e-01;
static const double ln2_lo = 1.90821492927058770002e-10;

/* 1/3, 1/5, ..., 1/25 and 1/1, 1/2, ..., 1/18: the series' coefficients,
 * so that a sample (jemalloc calls log once for each) costs multiplications,
 * not divisions. */
static const double one_over_odd[12] = {1.0 / 3, 1.0 / 5, 1.0 / 7, 1.0 / 9, 1.0 / 11, 1.0 / 13,
                                        1.0 / 15, 1.0 / 17, 1.0 / 19, 1.0 / 21, 1.0 / 23, 1.0 / 25};
static const double one_over[18] = {1.0, 1.0 / 2, 1.0 / 3, 1.0 / 4, 1.0 / 5, 1.0 / 6,
                                    1.0 / 7, 1.0 / 8, 1.0 / 9, 1.0 / 10, 1.0 / 11, 1.0 / 12,
                                    1.0 / 13, 1.0 / 14, 1.0 / 15, 1.0 / 16, 1.0 / 17, 1.0 / 18};

__attribute__((visibility("hidden"))) double graphbit_alloc_log(double x) {
    uint64_t bits = to_bits(x);
    if (x != x) return x;                     /* NaN */
    if (x == 0) return -__builtin_inf();      /* for +0 and -0 */
    if (bits >> 63) return __builtin_nan(""); /* negative */
    if (bits >> 52 == 0x7ff) return x;        /* +inf */
    int k = 0;
    if (bits >> 52 == 0) {        /* subnormal: scale into the normal range */
        x *= 18014398509481984.0; /* 2^54 */
        bits = to_bits(x);
        k = -54;
    }
    k += (int)(bits >> 52) - 1023;
    /* m in [1, 2), then into [sqrt(1/2), sqrt(2)) so that |s| <= 0.1716 */
    double m = from_bits((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    if (m > 1.41421356237309504880) {
        m *= 0.5;
        k += 1;
    }
    /* log(m) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m-1)/(m+1):
     * the terms after s^25/25 add less than 1e-21. */
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double series = 0; /* z/3 + z^2/5 + ... + z^12/25 */
    for (int i = 11; i >= 0; i--) series = (series + one_over_odd[i]) * z;
    /* log(m) = f - f*f/2 + s*(f*f/2 + 2 series), the form that keeps the
     * rounding of f out of the result, as fdlibm writes it. */
    double half = 0.5 * f * f;
    double r = f - half + s * (half + 2.0 * series);
    return k * ln2_hi + (r + k * ln2_lo);
}

__attribute__((visibility("hidden"))) double graphbit_alloc_exp(double x) {
    if (x != x) return x;                                   /* NaN */
    if (x > 709.782712893383973096) return __builtin_inf(); /* overflow, +inf */
    if (x < -745.133219101941108420) return 0;              /* underflow, -inf */
    /* x = k ln2 + r, |r| <= ln2 / 2 */
    double kf = x * 1.44269504088896338700 + (x < 0 ? -0.5 : 0.5);
    int k = (int)kf;
    double r = (x - k * ln2_hi) - k * ln2_lo;
    /* e^r by its series: 18 terms leave less than 1e-20 for |r| <= 0.35 */
    double sum = 1.0;
    for (int i = 17; i >= 0; i--) sum = 1.0 + sum * r * one_over[i];
    /* times 2^k, in two steps where 2^k alone is not a normal double */
    if (k > 1023) return sum * power_of_two(1023) * power_of_two(k - 1023);
    if (k < -1022) return sum * power_of_two(k + 1000) * power_of_two(-1000);
    return sum * power_of_two(k);
}
