#!/usr/bin/env bash
# The C core and its C tests built with the Swift toolchain's clang (what
# SwiftPM compiles CSources with), Release, and run with ctest.  The clang
# build has code paths of its own: the AVX2 direct-convolution 4x24 and 6x16
# tiles run their channel steps as asm blocks under clang only
# (conv_direct_ukernels.h), and the default CMake build (cc = gcc) never
# compiles them.
#   Scripts/check-clang.sh [build-dir]      (default build-clang)
# Then the development timers in Benchmarks/c are compiled (not run) against
# that build, -std=c11 -Wall -Wextra -Werror, so that they keep up with the
# internal headers they include.  Last, the library alone is built without
# OpenMP with -Werror (in BUILD-noomp).
# Environment: JOBS (default 2); CLANG (default: clang next to swift).
# Skipped, with a message, when no clang is found.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-clang}
JOBS=${JOBS:-2}
. Scripts/toolchain-clang.sh
CLANG=$(toolchain_clang)
if [ -z "$CLANG" ]; then
    echo "check-clang: no clang found; skipped"
    exit 0
fi
# clang's OpenMP runtime is LLVM's libomp (libomp-dev), which CMake's
# FindOpenMP does not find by itself
LIBOMP=$(ls /usr/lib/llvm-*/lib/libomp.so 2>/dev/null | head -n 1 || true)
OMP_ARGS=()
if [ -n "$LIBOMP" ]; then
    OMP_ARGS=(-DOpenMP_C_FLAGS=-fopenmp -DOpenMP_C_LIB_NAMES=omp -DOpenMP_omp_LIBRARY="$LIBOMP")
else
    echo "check-clang: libomp not found; building without OpenMP"
    OMP_ARGS=(-DCONVKIT_USE_OPENMP=OFF)
fi
echo "check-clang: $("$CLANG" --version | head -n 1)"
CC="$CLANG" cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCONVKIT_BUILD_TESTS=ON "${OMP_ARGS[@]}"
cmake --build "$BUILD" -j"$JOBS"
ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS"
# the development timers: compile only, warnings are errors
read -r -a DEV_LIBS <<< "$(pkg-config --libs openblas) -lm"
if [ -n "$LIBOMP" ]; then DEV_LIBS+=(-fopenmp -L"$(dirname "$LIBOMP")" -lomp); fi
for f in Benchmarks/c/*.c; do
    "$CLANG" -O2 -std=c11 -Wall -Wextra -Werror -ICSources/include -ICSources/core "$f" "$BUILD"/libconvkit.a \
        "${DEV_LIBS[@]}" -o "$BUILD/$(basename "$f" .c)"
    echo "check-clang: compiled $f"
done
# The library without OpenMP (CONVKIT_USE_OPENMP=OFF, a supported
# configuration: single-threaded), warnings as errors: code that only
# OpenMP pragmas use must not warn there.
CC="$CLANG" cmake -S . -B "$BUILD-noomp" -DCMAKE_BUILD_TYPE=Release -DCONVKIT_USE_OPENMP=OFF \
    -DCMAKE_C_FLAGS=-Werror -DCONVKIT_BUILD_TESTS=OFF -DCONVKIT_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$BUILD-noomp" -j"$JOBS" --target convkit_objects
echo "check-clang: the library builds without OpenMP, no warnings"
