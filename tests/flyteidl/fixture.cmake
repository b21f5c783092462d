# fixture.cmake - ctest fixture: runs the REAL `pyflyte package` over examples/flytekit and
# writes flytekit-made literal/error payloads. Usage:
#   cmake -DVENV=<venv> -DSRC=<source dir> -DOUT=<dir> -P fixture.cmake
#   cmake -DVENV=<venv> -DSCRIPT=<py> -DARG=<arg> -P fixture.cmake   (run a python check)
if(NOT EXISTS "${VENV}/bin/pyflyte" OR NOT EXISTS "${VENV}/bin/python")
  message(FATAL_ERROR "flytekit venv not found at ${VENV}; run `scripts/setup python` first")
endif()

if(DEFINED SCRIPT)
  execute_process(COMMAND "${VENV}/bin/python" "${SCRIPT}" "${ARG}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${SCRIPT} failed (${rc})")
  endif()
  return()
endif()

file(MAKE_DIRECTORY "${OUT}")
file(REMOVE "${OUT}/flyte-package.tgz")
# No bytecode: the example directory is part of the source tree.
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env PYTHONDONTWRITEBYTECODE=1
          "${VENV}/bin/pyflyte" --pkgs pi package --image spok-spark:local -f
          -o "${OUT}/flyte-package.tgz"
  WORKING_DIRECTORY "${SRC}/examples/flytekit"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT EXISTS "${OUT}/flyte-package.tgz")
  message(FATAL_ERROR "pyflyte package failed (${rc})")
endif()
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env PYTHONDONTWRITEBYTECODE=1
          "${VENV}/bin/python" "${SRC}/tests/flyteidl/gen_literals.py" "${OUT}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gen_literals.py failed (${rc})")
endif()
