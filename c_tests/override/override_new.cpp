// Every form of C++ operator new and delete, run under glibc and under
// libgraphbit_alloc_override.so (tests/override.sh compares the standard
// output of both runs). Built with -fsized-deallocation -faligned-new, so
// the compiler calls the sized and aligned forms itself. Standard error
// says whether the blocks were the override's (gb_owns, looked up at run
// time: absent without the preload).
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

struct alignas(64) Wide {
    unsigned char bytes[100];
};
struct alignas(4096) Paged {
    unsigned char bytes[10];
};

static bool (*owns)(const void *) = nullptr;
static int foreign = 0, checked = 0;

static void note(const void *p) {
    if (owns != nullptr && p != nullptr) {
        checked++;
        if (!owns(p)) foreign++;
    }
}

struct Refused {};

static int handler_calls = 0;
static void handler() {
    handler_calls++;
    std::set_new_handler(nullptr); // the next failure throws
}

static void row(const char *what, const void *p, std::size_t alignment) {
    std::printf("%-40s %s aligned(%zu)=%s\n", what, p ? "block" : "NULL", alignment,
                p && reinterpret_cast<std::uintptr_t>(p) % alignment == 0 ? "yes" : "NO");
    note(p);
}

int main() {
    owns = reinterpret_cast<bool (*)(const void *)>(dlsym(RTLD_DEFAULT, "gb_owns"));
    const std::size_t huge = SIZE_MAX / 2;

    // new-expressions: plain, array, aligned, aligned array; delete with size.
    int *one = new int(7);
    row("new int", one, alignof(int));
    delete one;
    int *many = new int[1000];
    row("new int[1000]", many, alignof(int));
    delete[] many;
    Wide *wide = new Wide;
    row("new Wide (alignas 64)", wide, 64);
    delete wide;
    Wide *wides = new Wide[7];
    row("new Wide[7]", wides, 64);
    delete[] wides;
    Paged *paged = new Paged;
    row("new Paged (alignas 4096)", paged, 4096);
    delete paged;
    std::string *s = new std::string(5000, 'x');
    row("new std::string(5000)", s->data(), 1);
    delete s;

    // nothrow expressions.
    int *nt = new (std::nothrow) int[10];
    row("new (nothrow) int[10]", nt, alignof(int));
    delete[] nt;
    Wide *ntw = new (std::nothrow) Wide;
    row("new (nothrow) Wide", ntw, 64);
    delete ntw;

    // Each operator called by name, with the matching delete form.
    void *p;
    p = ::operator new(0);
    row("operator new(0)", p, 1);
    ::operator delete(p);
    p = ::operator new(24);
    row("operator new(24)", p, 8);
    ::operator delete(p, 24);
    p = ::operator new[](100);
    row("operator new[](100)", p, 8);
    ::operator delete[](p, 100);
    p = ::operator new[](100);
    ::operator delete[](p);
    p = ::operator new(64, std::nothrow);
    row("operator new(64, nothrow)", p, 8);
    ::operator delete(p, std::nothrow);
    p = ::operator new[](64, std::nothrow);
    row("operator new[](64, nothrow)", p, 8);
    ::operator delete[](p, std::nothrow);
    p = ::operator new(100, std::align_val_t(256));
    row("operator new(100, align 256)", p, 256);
    ::operator delete(p, std::align_val_t(256));
    p = ::operator new(100, std::align_val_t(256));
    ::operator delete(p, 100, std::align_val_t(256));
    p = ::operator new[](300, std::align_val_t(128));
    row("operator new[](300, align 128)", p, 128);
    ::operator delete[](p, 300, std::align_val_t(128));
    p = ::operator new[](300, std::align_val_t(128));
    ::operator delete[](p, std::align_val_t(128));
    p = ::operator new(10, std::align_val_t(8192), std::nothrow);
    row("operator new(10, align 8192, nothrow)", p, 8192);
    ::operator delete(p, std::align_val_t(8192), std::nothrow);
    p = ::operator new[](10, std::align_val_t(32), std::nothrow);
    row("operator new[](10, align 32, nothrow)", p, 32);
    ::operator delete[](p, std::align_val_t(32), std::nothrow);
    ::operator delete(nullptr, 16);
    ::operator delete[](nullptr, 16, std::align_val_t(64));
    ::operator delete(nullptr);

    // Failure: nothrow forms return NULL; throwing forms call the
    // new-handler (which removes itself), then throw std::bad_alloc.
    std::printf("operator new(huge, nothrow) %s\n",
                ::operator new(huge, std::nothrow) ? "block" : "NULL");
    std::printf("operator new[](huge, align 64, nothrow) %s\n",
                ::operator new[](huge, std::align_val_t(64), std::nothrow) ? "block" : "NULL");
    const char *forms[] = {"operator new(huge)", "operator new[](huge)",
                           "operator new(huge, align 64)", "operator new[](huge, align 64)"};
    for (int form = 0; form < 4; form++) {
        handler_calls = 0;
        std::set_new_handler(handler);
        const char *outcome = "returned";
        try {
            switch (form) {
            case 0: p = ::operator new(huge); break;
            case 1: p = ::operator new[](huge); break;
            case 2: p = ::operator new(huge, std::align_val_t(64)); break;
            default: p = ::operator new[](huge, std::align_val_t(64)); break;
            }
        } catch (const std::bad_alloc &) {
            outcome = "threw std::bad_alloc";
        }
        std::printf("%s %s after %d handler call(s)\n", forms[form], outcome, handler_calls);
    }
    handler_calls = 0;
    std::set_new_handler(handler);
    void *q = ::operator new(huge, std::nothrow);
    std::printf("operator new(huge, nothrow) with a handler %s after %d handler call(s)\n",
                q ? "block" : "NULL", handler_calls);

    // A new-handler that throws: its exception leaves the throwing forms as
    // it is (through the override's frames), and the nothrow forms return
    // NULL. (The override links no C++ runtime: it finds this program's.)
    std::set_new_handler([] { throw Refused{}; });
    const char *refused = "returned";
    try {
        p = ::operator new(huge, std::align_val_t(64));
    } catch (const Refused &) {
        refused = "threw the handler's exception";
    }
    std::printf("operator new(huge, align 64), throwing handler: %s\n", refused);
    std::set_new_handler([] { throw std::bad_alloc(); });
    std::printf("operator new(huge, nothrow), handler throws bad_alloc: %s\n",
                ::operator new(huge, std::nothrow) ? "block" : "NULL");
    std::printf("operator new[](huge, align 32, nothrow), handler throws bad_alloc: %s\n",
                ::operator new[](huge, std::align_val_t(32), std::nothrow) ? "block" : "NULL");
    std::set_new_handler(nullptr);

    // Containers and smart pointers: many sizes through new/delete.
    std::vector<std::unique_ptr<std::vector<int>>> nested;
    long sum = 0;
    for (int i = 0; i < 20000; i++) {
        nested.emplace_back(new std::vector<int>(i % 97, i));
        if (i % 3 == 0) nested[i / 2].reset();
    }
    for (auto &v : nested)
        if (v)
            for (int x : *v) sum += x;
    std::printf("containers sum=%ld\n", sum);

    if (owns != nullptr)
        std::fprintf(stderr, "override: %d of %d blocks checked were the backend's\n",
                     checked - foreign, checked);
    return foreign != 0 ? 1 : 0;
}
