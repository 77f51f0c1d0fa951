# The embedded default model: perplexity on unseen English, English greedy output, and chat
# turns that end. Included from tests/integration/CMakeLists.txt.
add_test(NAME default_model
  COMMAND ${MLXS_DEBIAN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_default_model.py ${PROJECT_BINARY_DIR})
set_tests_properties(default_model PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
