# Test fixture: `cmake --install` the build into PREFIX.tmp, then move it to
# PREFIX, so the consumer tests also prove that the installed tree is
# relocatable (no absolute install paths inside it). Also checks what
# cmake/install.cmake promises: bin/gb-info is there and runs, and, given
# READELF (ELF platforms), no installed library or program carries DWARF
# (.debug_info, .debug_line: stripped at install).
#   cmake -DBUILD_DIR=... -DPREFIX=... [-DCONFIG=...] [-DREADELF=...] -P install_moved.cmake
file(REMOVE_RECURSE "${PREFIX}" "${PREFIX}.tmp")
set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}.tmp"
                        ${config_args}
                COMMAND_ERROR_IS_FATAL ANY)
file(RENAME "${PREFIX}.tmp" "${PREFIX}")
file(GLOB_RECURSE installed LIST_DIRECTORIES false RELATIVE "${PREFIX}" "${PREFIX}/*")
list(SORT installed)
list(JOIN installed "\n  " listing)
message(STATUS "installed, then moved to ${PREFIX}:\n  ${listing}")

file(GLOB gb_info "${PREFIX}/bin/gb-info*")
if(NOT gb_info)
  message(FATAL_ERROR "bin/gb-info was not installed")
endif()
execute_process(COMMAND ${gb_info} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "installed ${gb_info} exited ${result}:\n${out}")
endif()
if(READELF)
  file(GLOB binaries "${PREFIX}/lib/*.a" "${PREFIX}/bin/*")
  foreach(variant_file IN LISTS installed)
    if(variant_file MATCHES "\\.so\\.[0-9]+\\.[0-9]+\\.[0-9]+$")
      list(APPEND binaries "${PREFIX}/${variant_file}")
    endif()
  endforeach()
  list(LENGTH binaries count)
  if(count LESS 3)
    message(FATAL_ERROR "expected a shared library, an archive and gb-info, found: ${binaries}")
  endif()
  foreach(binary IN LISTS binaries)
    execute_process(COMMAND "${READELF}" -S --wide "${binary}"
                    OUTPUT_VARIABLE sections COMMAND_ERROR_IS_FATAL ANY)
    if(sections MATCHES "\\.debug_(info|line)")
      message(FATAL_ERROR "${binary} was installed with its debug info (${CMAKE_MATCH_0})")
    endif()
  endforeach()
  message(STATUS "no debug info in the ${count} installed libraries and programs")
endif()
