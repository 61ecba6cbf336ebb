# GraphBitAlloc::graphbit_alloc and GraphBitAlloc::graphbit_alloc_static: the
# variant each consumer needs, chosen from the type of the target that links
# them. An executable gets initial-exec TLS (the fastest; its static TLS is
# sized at start-up); anything else may end up loaded with dlopen, where
# jemalloc's ~2 KiB of initial-exec TLS does not fit glibc's reserve
# ("cannot allocate memory in static TLS block"), so it gets the dlopen build.
# Included by the build tree (GB_IMPORTED_SCOPE GLOBAL, as its other targets)
# and by the installed package config (directory scope), after the concrete
# targets exist.
foreach(gb_pick IN ITEMS graphbit_alloc graphbit_alloc_static)
  if(NOT TARGET GraphBitAlloc::${gb_pick})
    if(gb_pick STREQUAL "graphbit_alloc")
      set(gb_exe GraphBitAlloc::graphbit_alloc_exe)
      set(gb_other GraphBitAlloc::graphbit_alloc_dlopen)
    else()
      set(gb_exe GraphBitAlloc::graphbit_alloc_static_exe)
      set(gb_other GraphBitAlloc::graphbit_alloc_dlopen_static)
    endif()
    add_library(GraphBitAlloc::${gb_pick} INTERFACE IMPORTED ${GB_IMPORTED_SCOPE})
    set_target_properties(GraphBitAlloc::${gb_pick} PROPERTIES
      INTERFACE_LINK_LIBRARIES
        "$<IF:$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>,${gb_exe},${gb_other}>")
  endif()
endforeach()
unset(gb_pick)
unset(gb_exe)
unset(gb_other)

# GraphBitAlloc::override_static: the override's archive linked whole
# (--whole-archive), so that every function of the malloc family lands in
# the program even where it calls only some of them itself: the C library
# must never serve one function of the family (say posix_memalign) while
# the override serves free.
set(GB_OVERRIDE_EXPORT_OPTIONS
  "LINKER:--export-dynamic-symbol=_Znw*" "LINKER:--export-dynamic-symbol=_Zna*"
  "LINKER:--export-dynamic-symbol=_Zdl*" "LINKER:--export-dynamic-symbol=_Zda*")
if(TARGET GraphBitAlloc::override_archive AND NOT TARGET GraphBitAlloc::override_static)
  add_library(GraphBitAlloc::override_static INTERFACE IMPORTED ${GB_IMPORTED_SCOPE})
  # Its C++ operators exported from the program, so that a C++ library
  # (libstdc++, a plugin) loaded later binds to them: in a C program nothing
  # else references them, and the linker would keep them local.
  set_target_properties(GraphBitAlloc::override_static PROPERTIES
    INTERFACE_LINK_LIBRARIES "$<LINK_LIBRARY:WHOLE_ARCHIVE,GraphBitAlloc::override_archive>"
    INTERFACE_LINK_OPTIONS "${GB_OVERRIDE_EXPORT_OPTIONS}")
endif()
