#!/usr/bin/env bash
# ConvKit under the sanitizers (bounded; meant for CI and before a release):
#   1. C core + C tests with AddressSanitizer + UndefinedBehaviorSanitizer (CMake
#      option CONVKIT_SANITIZE), all of ctest (incl. the _scalar runs).
#   2. Tests/c/test_stress.c (pthreads on shared plans) with ThreadSanitizer,
#      built with clang, without OpenMP (see below).
#   3. swift test --sanitize=thread, filtered to the stress tests (Stress*).
#   4. swift test --sanitize=address, filtered to the stress, parser, profile,
#      planner and error tests (the numerically heavy suites are skipped: ASan
#      adds nothing there beyond what the C ASan run covers, at 3-5x the time).
#
# OpenMP and TSan: the OpenMP runtime is not TSan-instrumented, so its
# barriers and queues look like races (false positives). The TSan runs use
# OMP_NUM_THREADS=1 / OPENBLAS_NUM_THREADS=1, single-threaded plans (the
# threads come from the test's own pthreads / Swift tasks), the C build leaves
# OpenMP out entirely, and Fuzz/tsan.supp suppresses reports from inside
# libomp/libgomp/OpenBLAS only.
#
# Environment: STAGES (default "1 2 3 4"), JOBS (2), SANITIZE_BUILD_DIR
# (build-sanitize), CLANG (default: clang next to swift).
set -euo pipefail

cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
SAN=${SANITIZE_BUILD_DIR:-build-sanitize}
STAGES=" ${STAGES:-1 2 3 4} "
want() { [[ "$STAGES" == *" $1 "* ]]; }
START=$SECONDS
. Scripts/toolchain-clang.sh
CLANG=$(toolchain_clang)
CLANG=${CLANG:-clang}
section() { printf '\n== %s  (+%ds)\n' "$*" "$((SECONDS - START))"; }
SUPP="$PWD/Fuzz/tsan.supp"
export TSAN_OPTIONS="suppressions=$SUPP:halt_on_error=1:second_deadlock_stack=1"

if want 1; then
    section "1/4 C core + tests: ASan + UBSan (ctest)"
    cmake -S . -B "$SAN" -DCMAKE_BUILD_TYPE=Debug -DCONVKIT_SANITIZE=ON -DCONVKIT_BUILD_TESTS=ON \
          -DCONVKIT_BUILD_EXAMPLES=ON >/dev/null
    cmake --build "$SAN" -j"$JOBS"
    leak=0
    if echo 'int main(void){return 0;}' | cc -x c -fsanitize=address -o "$SAN"/lsan-probe - 2>/dev/null && \
       ASAN_OPTIONS=detect_leaks=1 "$SAN"/lsan-probe >/dev/null 2>&1; then leak=1; fi
    echo "leak detection: $([ $leak = 1 ] && echo on || echo off)"
    ASAN_OPTIONS="detect_leaks=$leak:abort_on_error=1:strict_string_checks=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        ctest --test-dir "$SAN" --output-on-failure -j"$JOBS"
fi

if want 2; then
    section "2/4 test_stress (pthreads on shared plans) under ThreadSanitizer"
    out=.build-tsan/c
    mkdir -p "$out"
    # Swift's clang ships a TSan runtime with libdispatch interceptors: link
    # Swift's libdispatch/BlocksRuntime next to it (any other clang needs nothing).
    extra=()
    swiftlib="$(dirname "$CLANG")/../lib/swift/linux"
    if [ -f "$swiftlib/libdispatch.so" ]; then
        extra=(-L"$swiftlib" -ldispatch -lBlocksRuntime -Wl,-rpath,"$swiftlib")
    fi
    # shellcheck disable=SC2046
    "$CLANG" -g -O1 -fsanitize=thread -std=c11 -D_GNU_SOURCE -DCK_HAVE_OPENBLAS=1 -Wno-unknown-pragmas \
        -ICSources/include -ICSources/core -ITests/c $(pkg-config --cflags openblas) \
        $(find CSources -name '*.c' | sort) Tests/c/test_stress.c $(pkg-config --libs openblas) -lm -lpthread \
        "${extra[@]}" -o "$out/test_stress"
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$out/test_stress"
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 CONVKIT_MAX_ISA=scalar "$out/test_stress"
fi

if want 3; then
    section "3/4 swift test --sanitize=thread (Stress*)"
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        swift test --sanitize=thread --scratch-path .build-tsan/swift -j "$JOBS" --filter 'Stress'
fi

if want 4; then
    section "4/4 swift test --sanitize=address (stress, parsers, profile, planner, errors)"
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
        swift test --sanitize=address --scratch-path .build-asan -j "$JOBS" \
        --filter 'Stress|Profile|Planner|Error|Descriptor|SafeTensors|Npy|Regression'
fi

section "sanitizer stages${STAGES%?} passed  (total $((SECONDS - START))s)"
