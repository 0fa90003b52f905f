#!/usr/bin/env bash
# ConvKit's fuzzers.  Runs every harness for a fixed time and fails on any
# finding (crash, sanitizer report, mismatch, hang, leak).
#
#   Scripts/fuzz.sh                 # every harness, 60 s each
#   FUZZ_SECONDS=20 Scripts/fuzz.sh desc exec
#
# C harnesses (libFuzzer + ASan + UBSan, built with clang; Swift's clang works):
#   desc   Fuzz/c/fuzz_desc.c   descriptor validation + plan creation with hostile fields
#   exec   Fuzz/c/fuzz_exec.c   small fuzzed shapes, every applicable algorithm vs the reference
# Swift harnesses (deterministic mutation loops inside `swift test`, seeded from
# Fuzz/corpus/<name>/: truncation at every offset, byte flips, insertions,
# splices; time-bounded by FUZZ_SECONDS):
#   swift  profile parser, safetensors reader (+ network weight files), .npy reader, ONNX importer
#
# Environment: FUZZ_SECONDS (per harness, default 60), FUZZ_BUILD_DIR (default
# .build-fuzz), CLANG (default: clang next to swift, else clang in PATH), JOBS,
# FUZZ_RSS_MB (libFuzzer -rss_limit_mb, default 2048), FUZZ_TIMEOUT (seconds per
# input before libFuzzer reports a hang, default 10), FUZZ_SWIFT_SCRATCH (swift
# --scratch-path for the Swift harnesses, default .build-fuzz/swift: reuse an
# existing build directory to skip a full build).
# Findings are written to $FUZZ_BUILD_DIR/findings/<harness>/ (crash-*, leak-*,
# timeout-*, oom-*); reproduce with `$FUZZ_BUILD_DIR/fuzz_<harness> <file>`.
set -uo pipefail

cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-60}
OUT=${FUZZ_BUILD_DIR:-.build-fuzz}
JOBS=${JOBS:-2}
RSS=${FUZZ_RSS_MB:-2048}
TIMEOUT=${FUZZ_TIMEOUT:-10}
HARNESSES=("$@")
[ ${#HARNESSES[@]} -eq 0 ] && HARNESSES=(desc exec swift)

. Scripts/toolchain-clang.sh
CLANG=$(toolchain_clang)
CLANG=${CLANG:-clang}

mkdir -p "$OUT"
declare -A RESULT
status=0

build_c() {
    local objdir="$OUT/obj" blas_cflags blas_libs
    blas_cflags=$(pkg-config --cflags openblas)
    blas_libs=$(pkg-config --libs openblas)
    local flags=(-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
                 -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE -DCK_HAVE_OPENBLAS=1
                 -ICSources/include -ICSources/core $blas_cflags -Wno-unknown-pragmas)
    mkdir -p "$objdir"
    # The library without OpenMP: single-threaded and deterministic, so a
    # finding reproduces (threading is covered by the TSan stress tests).
    local srcs objs=() src obj
    mapfile -t srcs < <(find CSources -name '*.c' | sort)
    for src in "${srcs[@]}"; do objs+=("$objdir/$(echo "${src%.c}" | tr / _).o"); done
    for src in "${srcs[@]}"; do
        obj="$objdir/$(echo "${src%.c}" | tr / _).o"
        if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find CSources -name '*.h' -newer "$obj" | head -1)" ]; then
            echo "$CLANG ${flags[*]} -c $src -o $obj"
        fi
    done | xargs -P "$JOBS" -I{} sh -c '{}' || return 1
    for h in desc exec; do
        "$CLANG" "${flags[@]}" -fsanitize=fuzzer -IFuzz/c "Fuzz/c/fuzz_$h.c" "${objs[@]}" $blas_libs -lm -lpthread \
            -o "$OUT/fuzz_$h" || return 1
    done
}

run_c() {
    local h=$1 corpus="$OUT/corpus/$1" findings="$OUT/findings/$1" log="$OUT/fuzz_$1.log"
    mkdir -p "$corpus" "$findings"
    # the committed seeds first, then what earlier runs found (kept in $OUT)
    local leak=0
    if ASAN_OPTIONS=detect_leaks=1 "$OUT/fuzz_$h" -runs=1 "Fuzz/corpus/$h" >/dev/null 2>&1; then leak=1; fi
    echo "== fuzz_$h: ${SECS}s (leak detection $([ $leak = 1 ] && echo on || echo off))"
    ASAN_OPTIONS="detect_leaks=$leak:abort_on_error=1:allocator_may_return_null=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        "$OUT/fuzz_$h" -max_total_time="$SECS" -timeout="$TIMEOUT" -rss_limit_mb="$RSS" -malloc_limit_mb="$RSS" \
        -detect_leaks=$leak -print_final_stats=1 -artifact_prefix="$findings/" \
        "$corpus" "Fuzz/corpus/$h" >"$log" 2>&1
    local rc=$?
    local execs
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    local found
    found=$(find "$findings" -type f | wc -l)
    if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
        RESULT[$h]="FAILED (exit $rc, ${execs:-?} executions, $found finding files in $findings; log $log)"
        grep -m5 -E 'FUZZ FINDING|ERROR: |runtime error|SUMMARY' "$log" | sed 's/^/    /'
        status=1
    else
        RESULT[$h]="ok: ${execs:-?} executions in ${SECS}s, 0 crashes/hangs/leaks, corpus $(ls "$corpus" | wc -l) inputs"
    fi
    echo "   ${RESULT[$h]}"
}

run_swift() {
    local log="$OUT/fuzz_swift.log"
    echo "== swift mutation harnesses: ${SECS}s each"
    local args=(--scratch-path "${FUZZ_SWIFT_SCRATCH:-.build-fuzz/swift}" -j "$JOBS" --filter 'StressFuzz|StressTests')
    FUZZ_SECONDS="$SECS" CONVKIT_FUZZ_CORPUS="$PWD/Fuzz/corpus" swift test "${args[@]}" >"$log" 2>&1
    local rc=$?
    grep -E '^fuzz ' "$log" | sed 's/^/   /'
    if [ $rc -ne 0 ]; then
        RESULT[swift]="FAILED (exit $rc; log $log)"
        grep -m10 -E 'error|failed|Fatal' "$log" | sed 's/^/    /'
        status=1
    else
        RESULT[swift]="ok: $(grep -cE '^fuzz ' "$log") harnesses, see above"
    fi
    echo "   ${RESULT[swift]}"
}

need_c=0
for h in "${HARNESSES[@]}"; do case $h in desc|exec) need_c=1 ;; esac; done
if [ $need_c = 1 ]; then
    echo "== building the C harnesses with $CLANG"
    if ! build_c; then echo "fuzz: build failed" >&2; exit 2; fi
fi
for h in "${HARNESSES[@]}"; do
    case $h in
        desc|exec) run_c "$h" ;;
        swift) run_swift ;;
        *) echo "fuzz: unknown harness '$h' (desc, exec, swift)" >&2; exit 2 ;;
    esac
done

echo
echo "== summary (FUZZ_SECONDS=$SECS)"
for h in "${HARNESSES[@]}"; do echo "   $h: ${RESULT[$h]}"; done
exit $status
