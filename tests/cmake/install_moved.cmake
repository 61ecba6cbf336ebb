# Test fixture: `cmake --install` the build into PREFIX.tmp, then move it to
# PREFIX, so the consumer tests also prove that the installed tree is
# relocatable (no absolute install paths inside it).
#   cmake -DBUILD_DIR=... -DPREFIX=... [-DCONFIG=...] -P install_moved.cmake
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
