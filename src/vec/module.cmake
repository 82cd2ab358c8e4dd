# src/vec: the SIMD kernels get their instruction sets per file; the rest of the
# engine stays portable and picks a kernel at run time (distance.c).
set_source_files_properties(${PROJECT_SOURCE_DIR}/src/vec/distance_avx2.c PROPERTIES
  COMPILE_OPTIONS "-mavx2;-mfma")
set_source_files_properties(${PROJECT_SOURCE_DIR}/src/vec/distance_avx512.c PROPERTIES
  COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512vl;-mavx512vpopcntdq;-mavx512vnni;-mavx2;-mfma")

# The engine's ANN benchmark (bench/ann/run.sh builds it on demand).
add_executable(bench_ann EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/ann/ann.c)
target_link_libraries(bench_ann PRIVATE hxcore)
