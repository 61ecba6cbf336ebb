# Install step (included by an install(CODE) rule of cmake/install.cmake,
# after the files are copied): strips the debug info from the installed
# copies, as distributions do; the build tree's libraries keep theirs.
#
# Inputs: GB_STRIP_TOOL (objcopy on ELF platforms, strip on Apple),
# GB_STRIP_ELF (ON: objcopy), GB_DEBUG_INFO (ON: keep the debug info of the
# shared libraries and gb-info in <dir>/.debug/<file>.debug, linked with a
# .gnu_debuglink, where gdb and perf look for it), GB_STRIP_LINKED (paths
# relative to the prefix: shared libraries and programs), GB_STRIP_ARCHIVES
# (likewise: .a files, stripped unless GB_DEBUG_INFO: a .gnu_debuglink cannot
# follow an archive into the program it is linked into, so with
# GB_DEBUG_INFO=ON the archives keep their debug info).
# cmake_install.cmake sets no policies; include() gives this file a scope of its own.
cmake_policy(VERSION 3.25)
set(gb_root "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")

function(gb_run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result ERROR_VARIABLE error)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${ARGN} failed (${result}): ${error}")
  endif()
endfunction()

foreach(file IN LISTS GB_STRIP_LINKED GB_STRIP_ARCHIVES)
  set(path "${gb_root}/${file}")
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "strip_installed: ${path} was not installed")
  endif()
  if(NOT GB_STRIP_ELF)
    if(NOT GB_DEBUG_INFO OR file IN_LIST GB_STRIP_ARCHIVES)
      message(STATUS "Stripping: ${path}")
      gb_run("${GB_STRIP_TOOL}" -S "${path}")
    endif()
    continue()
  endif()
  if(file IN_LIST GB_STRIP_ARCHIVES)
    if(NOT GB_DEBUG_INFO)
      message(STATUS "Stripping: ${path}")
      gb_run("${GB_STRIP_TOOL}" --strip-debug "${path}")
    endif()
    continue()
  endif()
  if(GB_DEBUG_INFO)
    get_filename_component(dir "${path}" DIRECTORY)
    get_filename_component(name "${path}" NAME)
    set(debug "${dir}/.debug/${name}.debug")
    file(MAKE_DIRECTORY "${dir}/.debug")
    message(STATUS "Debug info: ${debug}")
    gb_run("${GB_STRIP_TOOL}" --only-keep-debug "${path}" "${debug}")
    file(CHMOD "${debug}" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    # The install manifest lists it, as it lists the files install() copied
    # (this file is included into cmake_install.cmake's scope).
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${debug}")
    message(STATUS "Stripping: ${path} (.gnu_debuglink ${name}.debug)")
    gb_run("${GB_STRIP_TOOL}" --strip-debug "--add-gnu-debuglink=${debug}" "${path}")
  else()
    message(STATUS "Stripping: ${path}")
    gb_run("${GB_STRIP_TOOL}" --strip-debug "${path}")
  endif()
endforeach()
