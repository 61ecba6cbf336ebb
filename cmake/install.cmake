# cmake --install: the layout cargo-c gives a C library, plus a CMake package.
#   lib/libgraphbit_alloc.so.X.Y.Z, .so.<SONAME version> and .so links, .a
#   include/graphbit_alloc.h, include/graphbit_alloc.hpp
#   lib/pkgconfig/graphbit-alloc.pc
#   lib/cmake/GraphBitAlloc/GraphBitAllocConfig.cmake (+ ConfigVersion)
include(CMakePackageConfigHelpers)

set(gb_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/GraphBitAlloc")

install(FILES
    "${GB_STAGE_DIR}/libgraphbit_alloc.so.${PROJECT_VERSION}"
    "${GB_STAGE_DIR}/${GB_SONAME}"
    "${GB_STAGE_DIR}/libgraphbit_alloc.so"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
              WORLD_READ WORLD_EXECUTE)
install(FILES "${GB_STAGE_DIR}/libgraphbit_alloc.a" DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(FILES
    "${CMAKE_CURRENT_SOURCE_DIR}/include/graphbit_alloc.h"
    "${CMAKE_CURRENT_SOURCE_DIR}/include/graphbit_alloc.hpp"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# Values the package config and the .pc file are written with.
set(GB_INSTALL_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
set(GB_INSTALL_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
set(GB_INSTALL_SHARED "libgraphbit_alloc.so.${PROJECT_VERSION}")

configure_package_config_file(
  "${CMAKE_CURRENT_SOURCE_DIR}/cmake/GraphBitAllocConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/GraphBitAllocConfig.cmake"
  INSTALL_DESTINATION "${gb_cmake_dir}")
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/GraphBitAllocConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMajorVersion)
install(FILES
    "${CMAKE_CURRENT_BINARY_DIR}/GraphBitAllocConfig.cmake"
    "${CMAKE_CURRENT_BINARY_DIR}/GraphBitAllocConfigVersion.cmake"
  DESTINATION "${gb_cmake_dir}")

# pkg-config: prefix relative to the .pc file, so the installed tree can move.
file(RELATIVE_PATH GB_PC_TO_PREFIX
     "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" GB_PC_TO_PREFIX "${GB_PC_TO_PREFIX}")
configure_file("${CMAKE_CURRENT_SOURCE_DIR}/cmake/graphbit-alloc.pc.in"
               "${CMAKE_CURRENT_BINARY_DIR}/graphbit-alloc.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/graphbit-alloc.pc"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
