# CUDA part of libtessera (owned by the CUDA backend). Included by CMakeLists.txt after
# add_library(tessera) when check_language(CUDA) found nvcc and CUDA is enabled.
#
# - sm_80 and sm_90 machine code (plus compute_90 PTX so newer GPUs can JIT it);
# - static CUDA runtime: libtessera.so needs no libcudart at load time, and on a machine without a
#   driver every CUDA call just fails with cudaErrorInsufficientDriver / NoDevice;
# - cuBLASLt and NCCL are dlopen'ed at run time (src/cuda/gemm.cu, src/cuda/dist.cu), so neither
#   is needed to build or to load the library;
# - host code of the .cu files compiles with -Wall -Werror (TSR_WERROR, default ON).
set(TSR_CUDA_TARGET tessera)
target_sources(${TSR_CUDA_TARGET} PRIVATE ${TSR_CUDA_SOURCES} ${TSR_CUDA_CXX_SOURCES})
target_include_directories(${TSR_CUDA_TARGET} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
target_compile_definitions(${TSR_CUDA_TARGET} PRIVATE TSR_HAVE_CUDA=1)
set_target_properties(${TSR_CUDA_TARGET} PROPERTIES
  CUDA_ARCHITECTURES "80-real;90-real;90-virtual"
  CUDA_RUNTIME_LIBRARY Static
  CUDA_STANDARD 17
  CUDA_STANDARD_REQUIRED ON
  CUDA_SEPARABLE_COMPILATION OFF
  CUDA_VISIBILITY_PRESET hidden)
# TSR_WERROR=OFF (bench/gpu/run.sh's on-device fallback build): warnings stay warnings on an unknown host compiler
option(TSR_WERROR "treat warnings in the CUDA host code as errors" ON)
if(TSR_WERROR)
  set(TSR_CUDA_WARN -Xcompiler=-Wall,-Werror --Werror cross-execution-space-call)
else()
  set(TSR_CUDA_WARN -Xcompiler=-Wall)
endif()
target_compile_options(${TSR_CUDA_TARGET} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:${TSR_CUDA_WARN} -lineinfo>)
target_link_libraries(${TSR_CUDA_TARGET} PRIVATE ${CMAKE_DL_LIBS} pthread)

# GPU test: bench/gpu/gpu_check.cu in its `check` mode (CUDA vs CPU backend). Without a usable GPU it
# prints "SKIP: CUDA backend not available: ..." and exits 77, which ctest reports as skipped.
set(TSR_GPU_CHECK_SRC ${CMAKE_CURRENT_SOURCE_DIR}/../bench/gpu/gpu_check.cu)
if(EXISTS ${TSR_GPU_CHECK_SRC})
  add_executable(gpu_check ${TSR_GPU_CHECK_SRC} ${CMAKE_CURRENT_SOURCE_DIR}/src/cuda/attention.cu)
  target_link_libraries(gpu_check PRIVATE tessera m)
  set_target_properties(gpu_check PROPERTIES CUDA_ARCHITECTURES "80-real;90-real" CUDA_RUNTIME_LIBRARY Static
                                             CUDA_STANDARD 17)
  target_compile_options(gpu_check PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:${TSR_CUDA_WARN}>)
  enable_testing()
  add_test(NAME cuda COMMAND gpu_check check)
  set_tests_properties(cuda PROPERTIES SKIP_RETURN_CODE 77)
endif()
