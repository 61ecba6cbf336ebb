# The one place where CMake options become Cargo features.
#
#   GB_ALLOCATOR   auto (the platform default, as build.rs picks it) |
#                  jemalloc | mimalloc | system
#
# Sets GB_CARGO_FEATURES (a list for `cargo --features`; always with
# `global-allocator`, which the crate leaves off by default: the C library's
# own Rust allocations go to the backend, and gb_verify checks that they do),
# GB_CARGO_NO_DEFAULT_FEATURES (ON for a forced backend: the default feature
# `backend-auto` would build the platform's backend too) and
# GB_ALLOCATOR_RESOLVED (the backend the library will report through
# gb_allocator_name(); the tests check that it does).

set(GB_ALLOCATOR "auto" CACHE STRING
    "Allocator backend: auto (jemalloc on Linux, mimalloc on macOS/Windows, system elsewhere), jemalloc, mimalloc or system")
set_property(CACHE GB_ALLOCATOR PROPERTY STRINGS auto jemalloc mimalloc system)

set(GB_CARGO_FEATURES "global-allocator")
set(GB_CARGO_NO_DEFAULT_FEATURES OFF)
if(GB_ALLOCATOR STREQUAL "auto")
  # Mirrors build.rs: the default needs no feature.
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set(GB_ALLOCATOR_RESOLVED "jemalloc")
  elseif(CMAKE_SYSTEM_NAME MATCHES "^(Darwin|Windows)$")
    set(GB_ALLOCATOR_RESOLVED "mimalloc")
  else()
    set(GB_ALLOCATOR_RESOLVED "system")
  endif()
elseif(GB_ALLOCATOR MATCHES "^(jemalloc|mimalloc|system)$")
  set(GB_ALLOCATOR_RESOLVED "${GB_ALLOCATOR}")
  list(APPEND GB_CARGO_FEATURES "backend-${GB_ALLOCATOR}")
  set(GB_CARGO_NO_DEFAULT_FEATURES ON)
else()
  message(FATAL_ERROR
    "GB_ALLOCATOR is '${GB_ALLOCATOR}'; expected auto, jemalloc, mimalloc or system")
endif()
