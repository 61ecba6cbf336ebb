# The library's variants: the one table that says, for each, the Cargo
# feature it is built with, its name (the file lib<name>.so / lib<name>.a,
# as build.rs's library_name() gives it for that feature: tests/variants.rs
# checks), the CMake targets it gives (GraphBitAlloc::<target>; "-" for no
# static library) and the pkg-config module's description. The module is
# the name with "-" for "_". CMakeLists.txt builds and imports, install.cmake
# installs, and the package config defines, exactly these rows. A feature
# column may name several Cargo features, joined by "," (no spaces).
#
#          name                    feature   shared target          static target                pkg-config description
gb_variant(graphbit_alloc          ""        graphbit_alloc_exe     graphbit_alloc_static_exe    "for programs (shared objects that may be loaded with dlopen: graphbit-alloc-dlopen)")
gb_variant(graphbit_alloc_dlopen   dlopen    graphbit_alloc_dlopen  graphbit_alloc_dlopen_static "for shared objects that may be loaded with dlopen")
gb_variant(graphbit_alloc_checked  checked   graphbit_alloc_checked -                            "checked mode: every free and realloc checked")
gb_variant(graphbit_alloc_override override  override               override_archive             "whole-process mode: the process's malloc and C++ new/delete")
gb_variant(graphbit_alloc_override_checked override-checked override_checked - "checked whole-process mode: the process's malloc and C++ new/delete, every free checked")
gb_variant(graphbit_alloc_profiling profiling graphbit_alloc_profiling graphbit_alloc_profiling_static "heap profiles: gb_profile_start/dump/dump_peak write pprof files (docs/profiling.md)")
gb_variant(graphbit_alloc_override_profiling override,profiling override_profiling - "whole-process mode with heap profiles: GB_PROFILE=PATH writes the process's live and peak heap at exit")
gb_variant(graphbit_alloc_override_hardened override-hardened override_hardened - "hardened whole-process mode: the process's malloc and C++ new/delete, one block in N sampled into guard pages")
