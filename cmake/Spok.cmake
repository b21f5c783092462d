# Shared build settings and helpers for every module, test and fuzz target.

set(SPOK_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition
  -Wpointer-arith -Wcast-align -Wwrite-strings -Wundef -Wvla
  -Wimplicit-fallthrough -Werror=implicit-function-declaration)
if(SPOK_WERROR)
  list(APPEND SPOK_WARNINGS -Werror)
endif()

add_compile_definitions(_GNU_SOURCE SPOK_VERSION="${PROJECT_VERSION}")
add_compile_options(${SPOK_WARNINGS} -fno-omit-frame-pointer)

if(SPOK_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()

if(SPOK_FUZZ AND NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "SPOK_FUZZ needs clang (libFuzzer)")
endif()
if(SPOK_FUZZ)
  # Coverage instrumentation for every module, so fuzz targets see the library's edges,
  # not only the harness; only fuzz executables link the libFuzzer runtime.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# spok_library(NAME SOURCES... DEPS ...): a module's static library.
function(spok_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC "${CMAKE_SOURCE_DIR}/src")
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

set(SPOK_TEST_ENV
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
  "SPOK_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
  "SPOK_BUILD_DIR=${CMAKE_BINARY_DIR}")

# spok_test(NAME SOURCES... DEPS ... [LABELS ...] [TIMEOUT s]): a cmocka test binary run by ctest.
function(spok_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name} ${A_ARGS})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${SPOK_TEST_ENV}"
    TIMEOUT ${A_TIMEOUT} LABELS "${A_LABELS}")
endfunction()

# spok_fuzz(NAME SOURCE DEPS ... CORPUS dir): a libFuzzer target; its corpus replays as a test.
# Without SPOK_FUZZ the same harness links against a small replay driver, so the corpus
# still runs in every build.
function(spok_fuzz name)
  cmake_parse_arguments(A "" "SOURCE;CORPUS" "DEPS" ${ARGN})
  if(SPOK_FUZZ)
    add_executable(${name} ${A_SOURCE})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE ${A_DEPS})
    add_test(NAME ${name}_corpus COMMAND ${name} -runs=0 ${A_CORPUS})
  else()
    add_executable(${name} ${A_SOURCE} "${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c")
    target_link_libraries(${name} PRIVATE ${A_DEPS})
    add_test(NAME ${name}_corpus COMMAND ${name} ${A_CORPUS})
  endif()
  set_tests_properties(${name}_corpus PROPERTIES ENVIRONMENT "${SPOK_TEST_ENV}" LABELS fuzz)
endfunction()
