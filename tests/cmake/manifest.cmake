# The parser of c_tests/programs.txt for CMake (tests/cmake/CMakeLists.txt;
# print_manifest.cmake prints its reading for tests/manifest_parsers.rs,
# which checks that cargo, ctest and tests/sanitizers.sh read every row
# alike).
#
# gb_manifest_row(LINE): run_is_row is FALSE for a comment or a blank line;
# otherwise run_name, run_source, run_why_not (strings) and run_link,
# run_pkg_config, run_args, run_env, run_harnesses (lists of the column's
# words) are set in the caller's scope. A line without 8 columns is fatal.
function(gb_manifest_row line)
  if(line MATCHES "^[ \t]*(#|$)")
    set(run_is_row FALSE PARENT_SCOPE)
    return()
  endif()
  string(REPLACE "|" ";" fields "${line}")
  list(LENGTH fields count)
  if(NOT count EQUAL 8)
    message(FATAL_ERROR "c_tests/programs.txt: 8 columns separated by | expected: ${line}")
  endif()
  set(columns name source link pkg_config args env harnesses why_not)
  foreach(i RANGE 7)
    list(GET fields ${i} value)
    list(GET columns ${i} column)
    string(STRIP "${value}" value)
    if(NOT column MATCHES "^(name|source|why_not)$")
      separate_arguments(value UNIX_COMMAND "${value}")
    endif()
    set(run_${column} "${value}" PARENT_SCOPE)
  endforeach()
  set(run_is_row TRUE PARENT_SCOPE)
endfunction()
