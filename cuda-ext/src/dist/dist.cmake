# Data-parallel training (include/tessera_dist.h), included by CMakeLists.txt after add_library(tessera).
# - src/dist/dist.c + store.c are part of libtessera always (rendezvous, the API, NCCL dispatch);
# - libtessera_gloo.so (gloo_shim.cpp, C++) holds the CPU collectives on Debian's Gloo; it is built only
#   when CMake finds Gloo (apt-get install libgloo-dev) and dlopen'ed by libtessera only for WORLD_SIZE > 1,
#   so libtessera never needs libgloo to load. Without Gloo the library works for one process and
#   tsr_dist_init says at run time that multi-process training is not available.
target_sources(tessera PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src/dist/dist.c ${CMAKE_CURRENT_SOURCE_DIR}/src/dist/store.c)
target_link_libraries(tessera PRIVATE ${CMAKE_DL_LIBS} pthread)

option(TSR_GLOO "build libtessera_gloo.so (CPU collectives) when Gloo is found" ON)
set(TSR_WITH_GLOO OFF)
if(TSR_GLOO)
  find_package(Gloo CONFIG QUIET)
  if(Gloo_FOUND AND TARGET gloo)
    set(TSR_WITH_GLOO ON)
  endif()
endif()
if(TSR_WITH_GLOO)
  enable_language(CXX)
  add_library(tessera_gloo SHARED ${CMAKE_CURRENT_SOURCE_DIR}/src/dist/gloo_shim.cpp)
  target_link_libraries(tessera_gloo PRIVATE gloo pthread)
  target_include_directories(tessera_gloo PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  set_target_properties(tessera_gloo PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_VISIBILITY_PRESET hidden
                        LIBRARY_OUTPUT_DIRECTORY ${TSR_OUTPUT_DIR})
  target_compile_options(tessera_gloo PRIVATE -Wall -Wextra -Wno-unused-parameter)
  message(STATUS "tessera_gloo: ON (Gloo ${Gloo_VERSION}: multi-process training on the CPU)")
else()
  message(STATUS "tessera_gloo: OFF (Gloo not found: apt-get install libgloo-dev); multi-process training unavailable")
endif()

# ranks forked on localhost: broadcast, gradient mean, refused fingerprint, dead peer, missing rank 0
enable_testing()
add_executable(test_dist ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_dist.c)
target_link_libraries(test_dist PRIVATE tessera m)
add_test(NAME dist COMMAND test_dist)
set_tests_properties(dist PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120 ENVIRONMENT "OMP_NUM_THREADS=1")
# bench/dist/run.sh: tokens/s by ranks x threads, all-reduce times (not a test)
add_executable(bench_dist ${CMAKE_CURRENT_SOURCE_DIR}/tests/bench_dist.c)
target_link_libraries(bench_dist PRIVATE tessera m)
