# embed: tokenizer (utf8proc), BERT forward pass (oneDNN sgemm + OpenMP).
# oneDNN ships no .pc file in Debian, so it is found by header and library.
pkg_check_modules(HXEMBED REQUIRED IMPORTED_TARGET libutf8proc)
find_package(OpenMP REQUIRED COMPONENTS C)
find_path(HXEMBED_DNNL_INCLUDE oneapi/dnnl/dnnl.h REQUIRED)
find_library(HXEMBED_DNNL_LIB dnnl REQUIRED)
target_include_directories(hxcore PUBLIC ${HXEMBED_DNNL_INCLUDE})
target_link_libraries(hxcore PUBLIC PkgConfig::HXEMBED ${HXEMBED_DNNL_LIB} OpenMP::OpenMP_C)

# The numeric files are hot: -O3 there only, leave the rest of hxcore alone.
file(GLOB HXEMBED_HOT ${PROJECT_SOURCE_DIR}/src/embed/kernels.c ${PROJECT_SOURCE_DIR}/src/embed/bert.c
     ${PROJECT_SOURCE_DIR}/src/embed/lexical.c)
set_source_files_properties(${HXEMBED_HOT} PROPERTIES COMPILE_OPTIONS "-O3")

# Benchmark driver (bench/embed/run.sh builds it; never built by `make test`).
add_executable(hx_bench_embed EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/embed/bench_ours.c)
target_link_libraries(hx_bench_embed PRIVATE hxcore)

# GEMM library comparison (bench only; needs libopenblas-dev from embed.test).
find_library(HXEMBED_OPENBLAS_LIB openblas)
find_path(HXEMBED_CBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas-pthread)
if(HXEMBED_OPENBLAS_LIB AND HXEMBED_CBLAS_INCLUDE)
  add_executable(hx_bench_gemm EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/embed/gemm_bench.c)
  target_include_directories(hx_bench_gemm PRIVATE ${HXEMBED_CBLAS_INCLUDE})
  target_link_libraries(hx_bench_gemm PRIVATE hxcore ${HXEMBED_OPENBLAS_LIB})
endif()

# target_clones makes ifunc resolvers, which run during relocation, before the
# ThreadSanitizer runtime exists: instrumented, they crash at load. These two
# files are pure arithmetic on caller-owned buffers, so they are left out of
# TSan (everything that shares state across threads stays instrumented).
if(HX_SANITIZE MATCHES "thread")
  set_property(SOURCE ${PROJECT_SOURCE_DIR}/src/embed/kernels.c ${PROJECT_SOURCE_DIR}/src/embed/gemm.c
               APPEND PROPERTY COMPILE_OPTIONS -fno-sanitize=thread)
endif()
