# `mlx-serving flags validate|eval` and scripts/validate-feature-flags, driven as an
# operator would before a reload.
add_test(NAME flags_cli_integration
  COMMAND ${MLXS_DEBIAN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_flags_cli.py ${PROJECT_BINARY_DIR})
