# Build step, run as `cmake -D... -P cargo_build.cmake` by the
# graphbit_alloc_cargo target, once per variant of the library: builds it with
# cargo and stages the outputs as they will be installed:
#   lib<NAME>.so.X.Y.Z, lib<NAME>.so.<soname version> -> it, lib<NAME>.so -> that
# and, for the variants that provide one (STATIC), lib<NAME>.a after checking
# that the native libraries it needs are those CMake was configured with.
#
# Inputs: CARGO, MANIFEST, TARGET_DIR, PROFILE (dev|release), FEATURES
# (comma-separated, may be empty), NO_DEFAULT_FEATURES (ON for a forced
# backend), NAME (the variant's name, a row of cmake/variants.cmake: the file
# names lib<NAME>.*), STATIC (ON: stage the .a too), STAGE_DIR, VERSION, SONAME_VERSION,
# EXPECTED_NATIVE_LIBS (as configured), NATIVE_LIBS_FILE, OBJCOPY (may be empty
# where there is none), SHARED_SUFFIX (.so, .dylib, .dll).

set(args rustc --lib --manifest-path "${MANIFEST}" --target-dir "${TARGET_DIR}"
    --profile "${PROFILE}")
if(NO_DEFAULT_FEATURES)
  list(APPEND args --no-default-features)
endif()
if(FEATURES)
  list(APPEND args --features "${FEATURES}")
endif()
# rustc prints the list for the staticlib; cargo replays it when fresh.
list(APPEND args -- --print native-static-libs)

# From the source directory, so that cargo reads the repository's
# .cargo/config.toml (build settings for the C backends).
get_filename_component(source_dir "${MANIFEST}" DIRECTORY)
execute_process(COMMAND "${CARGO}" ${args}
  WORKING_DIRECTORY "${source_dir}"
  ERROR_VARIABLE cargo_stderr ECHO_ERROR_VARIABLE
  RESULT_VARIABLE cargo_result)
if(NOT cargo_result EQUAL 0)
  message(FATAL_ERROR "cargo ${args} failed (${cargo_result})")
endif()

string(REGEX MATCH "native-static-libs: ([^\n]*)" line "${cargo_stderr}")
if(NOT STATIC)
  # Only the variant that provides the static library is checked.
elseif(NOT line)
  message(FATAL_ERROR "cargo did not print native-static-libs for lib${NAME}.a")
endif()
string(STRIP "${CMAKE_MATCH_1}" native_libs)
if(STATIC AND NOT native_libs STREQUAL EXPECTED_NATIVE_LIBS)
  # Configure reads this file first: the next build re-configures with it.
  file(WRITE "${NATIVE_LIBS_FILE}" "${native_libs}\n")
  message(FATAL_ERROR
    "lib${NAME}.a needs '${native_libs}', but CMake was configured with "
    "'${EXPECTED_NATIVE_LIBS}'. Saved to ${NATIVE_LIBS_FILE}: build again, "
    "CMake will re-configure with the new list.")
endif()

if(PROFILE STREQUAL "dev")
  set(out "${TARGET_DIR}/debug")
else()
  set(out "${TARGET_DIR}/${PROFILE}")
endif()

file(MAKE_DIRECTORY "${STAGE_DIR}")
if(SHARED_SUFFIX STREQUAL ".so")
  set(real "lib${NAME}.so.${VERSION}")
  set(soname "lib${NAME}.so.${SONAME_VERSION}")
  set(built "${out}/libgraphbit_alloc.so")
elseif(SHARED_SUFFIX STREQUAL ".dylib")
  set(real "lib${NAME}.${VERSION}.dylib")
  set(soname "lib${NAME}.${SONAME_VERSION}.dylib")
  set(built "${out}/libgraphbit_alloc.dylib")
else()
  set(real "${NAME}.dll")
  set(built "${out}/graphbit_alloc.dll")
endif()
# copy_if_different keeps the time stamp when nothing changed, so programs
# linked against the library are not relinked for nothing.
execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different
  "${built}" "${STAGE_DIR}/${real}" COMMAND_ERROR_IS_FATAL ANY)
if(NOT SHARED_SUFFIX STREQUAL ".dll")
  file(CREATE_LINK "${real}" "${STAGE_DIR}/${soname}" SYMBOLIC)
  file(CREATE_LINK "${soname}" "${STAGE_DIR}/lib${NAME}${SHARED_SUFFIX}" SYMBOLIC)
endif()

if(NOT STATIC)
  return()
endif()
# mimalloc's C sources define a weak std::get_new_handler() stub that returns
# NULL (for mi_new); linked statically into a C++ program it wins over
# libstdc++'s shared one and silently disables every std::set_new_handler.
# Make it local to the archive (a no-op for the other backends).
set(archive "${out}/libgraphbit_alloc.a")
if(OBJCOPY)
  set(archive "${STAGE_DIR}/lib${NAME}.a.tmp")
  execute_process(COMMAND "${OBJCOPY}" --localize-symbol=_ZSt15get_new_handlerv
                          "${out}/libgraphbit_alloc.a" "${archive}"
                  COMMAND_ERROR_IS_FATAL ANY)
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different
  "${archive}" "${STAGE_DIR}/lib${NAME}.a" COMMAND_ERROR_IS_FATAL ANY)
if(OBJCOPY)
  file(REMOVE "${archive}")
endif()
