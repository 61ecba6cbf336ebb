# cmake --install: the layout cargo-c gives a C library, plus a CMake package.
#   lib/libgraphbit_alloc{,_dlopen,_checked,_override,_override_checked,_override_hardened,
#   _profiling,_override_profiling}.so.X.Y.Z, .so.<SONAME version> and .so links;
#   lib/libgraphbit_alloc{,_dlopen,_override,_profiling}.a
#   (_override: where whole-process mode is built, GB_OVERRIDE)
#   include/graphbit_alloc.h, graphbit_alloc.hpp, graphbit_alloc_hooks.h
#   lib/pkgconfig/graphbit-alloc{,-dlopen,-checked,-override,-override-checked,
#   -override-hardened,-profiling,-override-profiling}.pc
#   lib/cmake/GraphBitAlloc/GraphBitAllocConfig.cmake (+ ConfigVersion)
#   bin/gb-info
# The installed libraries and gb-info are stripped of their debug info
# (cmake/strip_installed.cmake); with GB_INSTALL_DEBUG_INFO=ON, the shared
# libraries' and gb-info's goes to lib/.debug/ and bin/.debug/ instead.
include(CMakePackageConfigHelpers)

set(gb_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/GraphBitAlloc")

# Each variant of cmake/variants.cmake: its shared library (and links), its
# archive where it has one, its pkg-config module, and a row of the package
# config's tables.
set(gb_archives "")
set(GB_PACKAGE_SHARED "")
set(GB_PACKAGE_STATIC "")
foreach(variant IN LISTS GB_VARIANTS)
  string(TOUPPER "${variant}" upper)
  set(files "${GB_STAGE_DIR}/${GB_${upper}_FILE}")
  if(NOT GB_SHARED_SUFFIX STREQUAL ".dll")
    list(APPEND files "${GB_STAGE_DIR}/${GB_${upper}_SONAME}"
                      "${GB_STAGE_DIR}/lib${variant}${GB_SHARED_SUFFIX}")
  endif()
  install(FILES ${files}
    DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                WORLD_READ WORLD_EXECUTE)
  # target:file:soname, and target:file:native link items (","-separated).
  list(APPEND GB_PACKAGE_SHARED
       "${GB_VARIANT_${variant}_SHARED_TARGET}:${GB_${upper}_FILE}:${GB_${upper}_SONAME}")
  list(JOIN GB_VARIANT_${variant}_NATIVE_LINK_ITEMS "," native)
  if(GB_VARIANT_${variant}_STATIC_TARGET)
    list(APPEND gb_archives "${GB_STAGE_DIR}/lib${variant}.a")
    list(APPEND GB_PACKAGE_STATIC
         "${GB_VARIANT_${variant}_STATIC_TARGET}:lib${variant}.a:${native}")
  endif()
endforeach()
install(FILES ${gb_archives} DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(PROGRAMS "${GB_INFO_FILE}" DESTINATION "${CMAKE_INSTALL_BINDIR}")

# Debug info: line tables ([profile.release] debug in Cargo.toml) make each
# .so about 12 MB and each .a about 72 MB; stripped, 1.3 MB and 15 MB
# (docs/install.md). Only the installed copies are stripped.
option(GB_INSTALL_DEBUG_INFO
       "Install the debug info of the shared libraries and gb-info as separate .debug files (with a .gnu_debuglink), and keep the archives' own"
       OFF)
set(gb_strip_elf OFF)
set(gb_strip_tool "")
if(APPLE)
  set(gb_strip_tool "${CMAKE_STRIP}")
elseif(NOT WIN32)
  # ELF; a missing objcopy is already fatal on Linux (CMakeLists.txt).
  set(gb_strip_elf ON)
  set(gb_strip_tool "${CMAKE_OBJCOPY}")
endif()
if(gb_strip_tool)
  set(gb_strip_linked "")
  foreach(variant IN LISTS GB_VARIANTS)
    string(TOUPPER "${variant}" upper)
    list(APPEND gb_strip_linked "${CMAKE_INSTALL_LIBDIR}/${GB_${upper}_FILE}")
  endforeach()
  get_filename_component(gb_info_name "${GB_INFO_FILE}" NAME)
  list(APPEND gb_strip_linked "${CMAKE_INSTALL_BINDIR}/${gb_info_name}")
  set(gb_strip_archives "")
  foreach(archive IN LISTS gb_archives)
    get_filename_component(archive "${archive}" NAME)
    list(APPEND gb_strip_archives "${CMAKE_INSTALL_LIBDIR}/${archive}")
  endforeach()
  install(CODE "
    set(GB_STRIP_TOOL \"${gb_strip_tool}\")
    set(GB_STRIP_ELF ${gb_strip_elf})
    set(GB_DEBUG_INFO ${GB_INSTALL_DEBUG_INFO})
    set(GB_STRIP_LINKED \"${gb_strip_linked}\")
    set(GB_STRIP_ARCHIVES \"${gb_strip_archives}\")
    include(\"${CMAKE_CURRENT_SOURCE_DIR}/cmake/strip_installed.cmake\")")
endif()
install(FILES
    "${CMAKE_CURRENT_SOURCE_DIR}/include/graphbit_alloc.h"
    "${CMAKE_CURRENT_SOURCE_DIR}/include/graphbit_alloc.hpp"
    "${CMAKE_CURRENT_SOURCE_DIR}/include/graphbit_alloc_hooks.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# Values the package config and the .pc files are written with.
set(GB_INSTALL_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
set(GB_INSTALL_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")

configure_package_config_file(
  "${CMAKE_CURRENT_SOURCE_DIR}/cmake/GraphBitAllocConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/GraphBitAllocConfig.cmake"
  INSTALL_DESTINATION "${gb_cmake_dir}")
# The rule the SONAME follows: while 0.x a minor release may break the ABI
# (libgraphbit_alloc.so.0.MINOR), so find_package(GraphBitAlloc 0.1) accepts
# only 0.1.x; from 1.0 on, the same major version.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(gb_compatibility SameMinorVersion)
else()
  set(gb_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/GraphBitAllocConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY ${gb_compatibility})
install(FILES
    "${CMAKE_CURRENT_BINARY_DIR}/GraphBitAllocConfig.cmake"
    "${CMAKE_CURRENT_BINARY_DIR}/GraphBitAllocConfigVersion.cmake"
    "${CMAKE_CURRENT_SOURCE_DIR}/cmake/pick_variant.cmake"
  DESTINATION "${gb_cmake_dir}")

# pkg-config: prefix relative to the .pc file, so the installed tree can move.
file(RELATIVE_PATH GB_PC_TO_PREFIX
     "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" GB_PC_TO_PREFIX "${GB_PC_TO_PREFIX}")
# One template (cmake/graphbit-alloc.pc.in) for every module: the archive's
# native libraries where there is an archive to link as usual, the override's
# preload and whole-archive link lines for whole-process mode.
foreach(variant IN LISTS GB_VARIANTS)
  string(REPLACE "_" "-" gb_pc_module "${variant}")
  set(gb_pc_library "${variant}")
  set(gb_pc_description "${GB_VARIANT_${variant}_DESCRIPTION}")
  set(gb_pc_variables "")
  set(gb_pc_libs_private "")
  if(GB_VARIANT_${variant}_FEATURE MATCHES "^override")
    string(CONCAT gb_pc_variables
      "# For LD_PRELOAD: LD_PRELOAD=$(pkg-config --variable=preload ${gb_pc_module}) ./app\n"
      "preload=\${libdir}/lib${variant}.so\n")
    if(GB_VARIANT_${variant}_STATIC_TARGET)
      string(CONCAT gb_pc_variables "${gb_pc_variables}"
        "# Linked into the program (the whole archive, then what it needs):\n"
        "# cc app.c $(pkg-config --variable=static_link ${gb_pc_module})\n"
        "static_link=-Wl,--whole-archive \${libdir}/lib${variant}.a -Wl,--no-whole-archive "
        "-Wl,--export-dynamic-symbol=_Znw* -Wl,--export-dynamic-symbol=_Zna* "
        "-Wl,--export-dynamic-symbol=_Zdl* -Wl,--export-dynamic-symbol=_Zda* "
        "${GB_VARIANT_${variant}_NATIVE_LIBS}\n")
    endif()
  elseif(GB_VARIANT_${variant}_STATIC_TARGET)
    set(gb_pc_variables "native_static_libs=${GB_VARIANT_${variant}_NATIVE_LIBS}\n")
    set(gb_pc_libs_private "\nLibs.private: \${native_static_libs}")
  endif()
  configure_file("${CMAKE_CURRENT_SOURCE_DIR}/cmake/graphbit-alloc.pc.in"
                 "${CMAKE_CURRENT_BINARY_DIR}/${gb_pc_module}.pc" @ONLY)
  install(FILES "${CMAKE_CURRENT_BINARY_DIR}/${gb_pc_module}.pc"
          DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endforeach()
