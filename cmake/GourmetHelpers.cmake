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
