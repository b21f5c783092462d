# The YAML library (libyaml, Debian's libyaml-dev) as one target, spok_yaml, that every
# module links.
#
# Release and gcc builds link the system library. Fuzz builds (SPOK_FUZZ=ON, `scripts/build
# asan`) compile the same libyaml version from its Debian source package instead, with the
# build's sanitizers and libFuzzer coverage, so the fuzzers see edges and bugs inside the
# parser, not only in spok's code around it. `scripts/setup yaml-src` fetches and unpacks that
# source package into .cache/libyaml-src/ from the Debian archive (it is never committed).

pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)

if(NOT SPOK_FUZZ)
  add_library(spok_yaml INTERFACE)
  target_link_libraries(spok_yaml INTERFACE PkgConfig::YAML)
  return()
endif()

set(SPOK_YAML_SRC "${SPOK_CACHE_DIR}/libyaml-src/libyaml-${YAML_VERSION}")
if(NOT EXISTS "${SPOK_YAML_SRC}/src/parser.c" OR NOT EXISTS "${SPOK_YAML_SRC}/include/yaml.h")
  message(FATAL_ERROR "libyaml ${YAML_VERSION} source not found under ${SPOK_YAML_SRC}; the "
    "fuzz build compiles it instrumented: run `scripts/setup yaml-src`, then re-run cmake")
endif()
string(REPLACE "." ";" _yaml_v "${YAML_VERSION}")
list(GET _yaml_v 0 _yaml_major)
list(GET _yaml_v 1 _yaml_minor)
list(GET _yaml_v 2 _yaml_patch)
add_library(spok_yaml STATIC
  "${SPOK_YAML_SRC}/src/api.c" "${SPOK_YAML_SRC}/src/dumper.c"
  "${SPOK_YAML_SRC}/src/emitter.c" "${SPOK_YAML_SRC}/src/loader.c"
  "${SPOK_YAML_SRC}/src/parser.c" "${SPOK_YAML_SRC}/src/reader.c"
  "${SPOK_YAML_SRC}/src/scanner.c" "${SPOK_YAML_SRC}/src/writer.c")
target_include_directories(spok_yaml SYSTEM PUBLIC "${SPOK_YAML_SRC}/include")
target_compile_definitions(spok_yaml PUBLIC YAML_DECLARE_STATIC PRIVATE
  YAML_VERSION_MAJOR=${_yaml_major} YAML_VERSION_MINOR=${_yaml_minor}
  YAML_VERSION_PATCH=${_yaml_patch} YAML_VERSION_STRING="${YAML_VERSION}")
# Upstream code: our warning set is not its own (-w); the sanitizers and -fsanitize=
# fuzzer-no-link from cmake/Spok.cmake still apply, which is the point.
target_compile_options(spok_yaml PRIVATE -w)
message(STATUS "libyaml ${YAML_VERSION}: instrumented build from ${SPOK_YAML_SRC}")
