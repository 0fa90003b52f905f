#!/usr/bin/env bash
# ConvKit's whole test suite (what CI runs):
#   1. Scripts/setup.sh        system packages (only when missing)
#   2. swift build + swift test
#   3. Scripts/check-install.sh  CMake build + ctest + install + C examples;
#      Scripts/check-clang.sh   the same C tests built with the toolchain's clang,
#      and the Benchmarks/c development timers compiled against that build
#   4. ASan + UBSan build of the C core and its tests, with ctest
# Fails fast.  Environment: JOBS (parallel build jobs, default 2);
# SWIFT_SCRATCH_PATH (swift --scratch-path, default SwiftPM's .build);
# CHECK_BUILD_DIR (default build-check), CLANG_BUILD_DIR (default build-clang),
# SANITIZE_BUILD_DIR (default build-sanitize).
set -euo pipefail

cd "$(dirname "$0")/.."
export JOBS=${JOBS:-2}
CHECK_BUILD_DIR=${CHECK_BUILD_DIR:-build-check}
SAN=${SANITIZE_BUILD_DIR:-build-sanitize}
SWIFT_ARGS=(-j "$JOBS")
if [ -n "${SWIFT_SCRATCH_PATH:-}" ]; then SWIFT_ARGS+=(--scratch-path "$SWIFT_SCRATCH_PATH"); fi
STAGES=" ${STAGES:-1 2 3 4} "
want() { [[ "$STAGES" == *" $1 "* ]]; }
START=$SECONDS

section() {
    printf '\n==================================================================\n'
    printf '== %s  (+%ds)\n' "$*" "$((SECONDS - START))"
    printf '==================================================================\n'
}

if want 1; then
section "1/4 setup: system packages"
Scripts/setup.sh
fi

if want 2; then
section "2/4 swift build + swift test"
Scripts/check-readme.sh
swift build "${SWIFT_ARGS[@]}"
swift run "${SWIFT_ARGS[@]}" convkit-example
swift test "${SWIFT_ARGS[@]}"
fi

if want 3; then
section "3/4 CMake build, ctest, install, C examples; C tests built with clang"
Scripts/check-install.sh "$CHECK_BUILD_DIR"
Scripts/check-clang.sh "${CLANG_BUILD_DIR:-build-clang}"
fi

if want 4; then
section "4/4 C core + tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B "$SAN" -DCMAKE_BUILD_TYPE=Debug -DCONVKIT_SANITIZE=ON \
      -DCONVKIT_BUILD_TESTS=ON -DCONVKIT_BUILD_EXAMPLES=ON
cmake --build "$SAN" -j"$JOBS"
# LeakSanitizer needs ptrace; it is unavailable in some containers, so only ask
# for leak detection where it works.
leak=0
if \
   echo 'int main(void){return 0;}' | cc -x c -fsanitize=address -o "$SAN"/lsan-probe - 2>/dev/null && \
   ASAN_OPTIONS=detect_leaks=1 "$SAN"/lsan-probe >/dev/null 2>&1; then
    leak=1
fi
echo "leak detection: $([ $leak = 1 ] && echo on || echo 'off (LeakSanitizer unsupported here)')"
export ASAN_OPTIONS="detect_leaks=$leak:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir "$SAN" --output-on-failure -j"$JOBS"
fi

section "stages${STAGES%?} passed  (total $((SECONDS - START))s)"
