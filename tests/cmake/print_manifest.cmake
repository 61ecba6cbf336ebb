# cmake -DMANIFEST=c_tests/programs.txt -P tests/cmake/print_manifest.cmake
# prints each row as CMake reads it (manifest.cmake), one line each:
# name|source|link|pkg-config|args|env|harnesses, lists joined by spaces.
cmake_minimum_required(VERSION 3.25)
include("${CMAKE_CURRENT_LIST_DIR}/manifest.cmake")
file(STRINGS "${MANIFEST}" lines)
foreach(line IN LISTS lines)
  gb_manifest_row("${line}")
  if(NOT run_is_row)
    continue()
  endif()
  set(row "${run_name}|${run_source}")
  foreach(column IN ITEMS link pkg_config args env harnesses)
    list(JOIN run_${column} " " value)
    string(APPEND row "|${value}")
  endforeach()
  message(STATUS "${row}")
endforeach()
