# Declares every target the same way: gourmet_cc_library, gourmet_cc_binary,
# gourmet_cc_test, gourmet_plugin. Keeps per-folder CMakeLists short.
include_guard(GLOBAL)

# gourmet_cc_library(NAME name SRCS ... DEPS ... [PUBLIC_INCLUDE dir])
function(gourmet_cc_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${A_NAME} STATIC ${A_SRCS})
  target_include_directories(${A_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${A_NAME} PUBLIC ${A_DEPS})
  set_target_properties(${A_NAME} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# gourmet_cc_binary(NAME name SRCS ... DEPS ...) -> build/bin/name
function(gourmet_cc_binary)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
  set_target_properties(${A_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
endfunction()

# gourmet_cc_test(NAME name SRCS ... DEPS ... [LABELS ...]) -> a GoogleTest binary run by ctest
function(gourmet_cc_test)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS} GTest::gtest_main GTest::gmock)
  set_target_properties(${A_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  gtest_discover_tests(${A_NAME}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "unit;${A_LABELS}"
    DISCOVERY_TIMEOUT 30)
endfunction()

# gourmet_plugin(NAME name SRCS ... DEPS ...) -> build/plugins/name.so, loaded at run time.
function(gourmet_plugin)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(gourmet_plugin_${A_NAME} MODULE ${A_SRCS})
  target_link_libraries(gourmet_plugin_${A_NAME} PRIVATE gourmet_sdk ${A_DEPS})
  set_target_properties(gourmet_plugin_${A_NAME} PROPERTIES
    PREFIX "" OUTPUT_NAME ${A_NAME}
    LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/plugins
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  # Plugins must not silently depend on symbols of the host.
  target_link_options(gourmet_plugin_${A_NAME} PRIVATE -Wl,--no-undefined)
endfunction()

# gourmet_fuzz_target(NAME name SRCS ... DEPS ... [CORPUS dir] [RUNS n])
# -> a libFuzzer binary in build/fuzz/, only when GOURMET_FUZZ=ON (clang).
# With CORPUS, also a short CTest smoke run (label "fuzz") that reads the
# committed corpus and writes what it finds to a scratch dir in the build tree.
function(gourmet_fuzz_target)
  cmake_parse_arguments(A "" "NAME;CORPUS;RUNS" "SRCS;DEPS" ${ARGN})
  if(NOT GOURMET_FUZZ)
    return()
  endif()
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "GOURMET_FUZZ=ON needs clang (CMAKE_CXX_COMPILER=clang++)")
  endif()
  if(NOT A_RUNS)
    set(A_RUNS 20000)
  endif()
  add_executable(${A_NAME} ${A_SRCS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
  target_compile_options(${A_NAME} PRIVATE -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined)
  target_link_options(${A_NAME} PRIVATE -fsanitize=fuzzer,address,undefined)
  set_target_properties(${A_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz)
  # The code under test needs coverage instrumentation and the sanitizers too.
  foreach(dep IN LISTS A_DEPS)
    if(TARGET ${dep})
      get_target_property(imported ${dep} IMPORTED)
      if(NOT imported)
        target_compile_options(${dep} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
      endif()
    endif()
  endforeach()
  if(A_CORPUS AND GOURMET_BUILD_TESTS)
    set(scratch ${CMAKE_CURRENT_BINARY_DIR}/${A_NAME}_corpus)
    file(MAKE_DIRECTORY ${scratch})
    add_test(NAME ${A_NAME}_smoke
      COMMAND ${A_NAME} -runs=${A_RUNS} -max_total_time=60 -rss_limit_mb=1024
              -malloc_limit_mb=256 -timeout=10 ${scratch} ${A_CORPUS})
    set_tests_properties(${A_NAME}_smoke PROPERTIES LABELS "fuzz" TIMEOUT 180)
  endif()
endfunction()
