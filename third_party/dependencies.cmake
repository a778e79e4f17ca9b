# Finds the Debian packages lra-engine builds against. Nothing here is vendored: each dependency comes
# from the system, and a missing one stops the configure step with the package to install.
#   sudo apt-get install libgtest-dev libcli11-dev libstb-dev nlohmann-json3-dev libtomlplusplus-dev zlib1g-dev liblapacke-dev
#                        libopenblas-openmp-dev

function(lra_missing what package)
  message(FATAL_ERROR "lra-engine needs ${what}, which was not found. On Debian/Ubuntu install it with:\n"
                      "  sudo apt-get install ${package}\n"
                      "(or run scripts/setup.sh, which installs everything the build needs).")
endfunction()

find_package(nlohmann_json 3.10 QUIET)
if(NOT nlohmann_json_FOUND)
  lra_missing("nlohmann-json (safetensors headers, run metadata)" nlohmann-json3-dev)
endif()

find_package(CLI11 QUIET)
if(NOT CLI11_FOUND)
  find_path(LRA_CLI11_INCLUDE CLI/CLI.hpp)
  if(NOT LRA_CLI11_INCLUDE)
    lra_missing("CLI11 (command-line parsing)" libcli11-dev)
  endif()
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${LRA_CLI11_INCLUDE})
endif()

# stb is used header-only (one translation unit defines the implementation), so only the headers matter.
find_path(LRA_STB_INCLUDE stb_image.h PATH_SUFFIXES stb)
if(NOT LRA_STB_INCLUDE)
  lra_missing("stb (stb_image, stb_image_write)" libstb-dev)
endif()
add_library(lra_stb INTERFACE)
target_include_directories(lra_stb INTERFACE ${LRA_STB_INCLUDE})

# toml++ reads the run configurations (--config) and writes config.toml; header-only.
find_path(LRA_TOMLPP_INCLUDE toml++/toml.h)
if(NOT LRA_TOMLPP_INCLUDE)
  lra_missing("toml++ (TOML configuration files)" libtomlplusplus-dev)
endif()
add_library(lra_toml INTERFACE)
target_include_directories(lra_toml INTERFACE ${LRA_TOMLPP_INCLUDE})

find_package(ZLIB QUIET)
if(NOT ZLIB_FOUND)
  lra_missing("zlib (gzip-compressed datasets)" zlib1g-dev)
endif()

if(LRA_BUILD_TESTS)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    lra_missing("GoogleTest (the test suite)" libgtest-dev)
  endif()
endif()

# LAPACKE (LAPACK's C interface): the Hermitian eigensolver of the HiPPO initialisations (models/hippo/).
find_path(LRA_LAPACKE_INCLUDE lapacke.h)
find_library(LRA_LAPACKE_LIBRARY lapacke)
if(NOT LRA_LAPACKE_INCLUDE OR NOT LRA_LAPACKE_LIBRARY)
  lra_missing("LAPACKE (the eigensolver of the S4/S5 HiPPO initialisation)" liblapacke-dev)
endif()
add_library(lra_lapacke INTERFACE)
target_include_directories(lra_lapacke INTERFACE ${LRA_LAPACKE_INCLUDE})
target_link_libraries(lra_lapacke INTERFACE ${LRA_LAPACKE_LIBRARY})

# OpenBLAS, the OpenMP build (its threads run on libgomp's pool, shared with our own OpenMP loops): the
# float32 CPU GEMM measured beside ours (ops/matmul/matmul_cpu_openblas.cpp). Linked explicitly from its
# own directory, not through the libblas.so.3 alternative, so the library measured is the one named here.
find_path(LRA_OPENBLAS_INCLUDE cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-openmp
          /usr/include/aarch64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
find_library(LRA_OPENBLAS_LIBRARY openblas PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp
             /usr/lib/aarch64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
if(NOT LRA_OPENBLAS_INCLUDE OR NOT LRA_OPENBLAS_LIBRARY)
  lra_missing("OpenBLAS, OpenMP build (the float32 CPU GEMM compared with ours)" libopenblas-openmp-dev)
endif()
add_library(lra_openblas INTERFACE)
target_include_directories(lra_openblas INTERFACE ${LRA_OPENBLAS_INCLUDE})
target_link_libraries(lra_openblas INTERFACE ${LRA_OPENBLAS_LIBRARY})
