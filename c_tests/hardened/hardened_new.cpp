// The hardened override's C++ side: operator new samples as malloc does and
// every delete form recognises a sampled block. Run as `hardened_new CASE`
// under the preload by tests/hardened.sh (GB_HARDENED_SAMPLE=1).
//   new-overflow  new char[256], write one byte past its end: stopped
//   new-uaf       new int, delete, read it: stopped
//   new-forms     every new/delete form, blocks filled and checked: exit 0
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

static volatile unsigned char sink;

template <class T>
static T *opaque(T *p) {
    __asm__ volatile(""
                     : "+r"(p));
    return p;
}

struct alignas(256) Wide {
    unsigned char bytes[256];
};

#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                               \
        }                                                               \
    } while (0)

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *c = argv[1];
    if (!std::strcmp(c, "new-overflow")) {
        char *p = opaque(new char[256]);
        static_cast<volatile char *>(p)[256] = 1;
    } else if (!std::strcmp(c, "new-uaf")) {
        int *p = opaque(new int(5));
        delete p;
        sink = static_cast<unsigned char>(*opaque(static_cast<volatile int *>(p)));
    } else if (!std::strcmp(c, "new-forms")) {
        for (int round = 0; round < 1000; round++) {
            int *a = opaque(new int[100]);
            for (int i = 0; i < 100; i++) a[i] = i;
            for (int i = 0; i < 100; i++) CHECK(a[i] == i);
            delete[] a;
            long *b = opaque(new long(7));
            CHECK(*b == 7);
            delete b;  // sized delete with -fsized-deallocation
            Wide *w = opaque(new Wide);
            CHECK((reinterpret_cast<unsigned long>(w) & 255) == 0);
            std::memset(w->bytes, 3, sizeof w->bytes);
            delete w;  // aligned, sized
            void *n = opaque(operator new(1000, std::nothrow));
            CHECK(n != nullptr);
            std::memset(n, 1, 1000);
            operator delete(n, std::nothrow);
            void *s = opaque(operator new(24));
            operator delete(s, 24);
            void *al = opaque(operator new(64, std::align_val_t(128)));
            CHECK((reinterpret_cast<unsigned long>(al) & 127) == 0);
            operator delete(al, std::align_val_t(128));
        }
        std::puts("new-forms ok");
        return 0;
    } else {
        return 2;
    }
    std::puts("not caught");
    return 1;
}
