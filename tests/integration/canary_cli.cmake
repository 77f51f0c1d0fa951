# `mlx-serving canary validate|route|set-percentage`, driven as the deploy and rollback
# scripts and an operator would.
add_test(NAME canary_cli_integration
  COMMAND ${MLXS_DEBIAN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_canary_cli.py ${PROJECT_BINARY_DIR})
