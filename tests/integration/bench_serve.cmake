# Serving benchmark and OpenAI-client integration tests; included from CMakeLists.txt here
# (which defines MLXS_DEBIAN_PYTHON). Both start `mlx-serving serve` on a tiny test model.

# bench-serve against a live server: JSON consistency, text table, failures, bad flags.
add_test(NAME bench_serve_integration
  COMMAND ${MLXS_DEBIAN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_bench_serve.py
          ${PROJECT_BINARY_DIR})
set_tests_properties(bench_serve_integration PROPERTIES TIMEOUT 600)

# The official `openai` npm package (pinned in openai_node/package-lock.json) against the
# server. Installs into the build tree with `npm ci`; exits 77 (skipped) without node, npm
# or the npm registry.
add_test(NAME openai_node_client
  COMMAND ${MLXS_DEBIAN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_openai_node.py
          ${PROJECT_BINARY_DIR})
set_tests_properties(openai_node_client PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77)
