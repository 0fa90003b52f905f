#!/usr/bin/env bash
# ConvKit's C core and C tests on arm64 (aarch64): cross-compiled with
# Debian's cross toolchain and run under qemu-aarch64 (qemu-user).
#
#   Scripts/arm64-test.sh [BUILD_DIR]        (default build-arm64)
#
# 1. installs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user via
#    apt when missing;
# 2. OpenBLAS for arm64 (ARM64_OPENBLAS=1, the default): installs
#    libopenblas-dev:arm64 through Debian multiarch (dpkg --add-architecture
#    arm64) when missing; if that fails, or with ARM64_OPENBLAS=0, the core is
#    built without BLAS (im2col and the BLAS variants then decline);
# 3. configures the CMake build with cmake/aarch64-toolchain.cmake (OpenMP on);
# 4. checks that the dispatched kernels are the NEON ones by default and the
#    scalar ones under CONVKIT_MAX_ISA=scalar (a small probe
#    program written into the build directory);
# 5. runs every Tests/c/test_* binary and the C example under qemu-aarch64,
#    once with the default ISA (NEON) and once with CONVKIT_MAX_ISA=scalar,
#    and prints a summary table.  Exit status 0 only when everything passed.
#
# Environment: JOBS (parallel build jobs, default 2), TEST_TIMEOUT (seconds
# per test run, default 900), OMP_NUM_THREADS (default 2), ARM64_OPENBLAS (1/0).
# The guest's LD_LIBRARY_PATH pins the cross sysroot's libc (a multiarch
# libc6:arm64 does not match the cross ld.so; threaded programs hang with it).
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build-arm64}
JOBS=${JOBS:-2}
TEST_TIMEOUT=${TEST_TIMEOUT:-900}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
TRIPLE=aarch64-linux-gnu
SYSROOT=/usr/$TRIPLE
START=$SECONDS

section() { printf '\n== %s  (+%ds)\n' "$*" "$((SECONDS - START))"; }

# ---- 1. toolchain -------------------------------------------------------------
section "toolchain"
missing=()
command -v $TRIPLE-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
[ -f $SYSROOT/include/stdio.h ] || missing+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null 2>&1 || command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    SUDO=
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static)

ARM64_OPENBLAS=${ARM64_OPENBLAS:-1}
BLAS_PC=/usr/lib/$TRIPLE/openblas-pthread/pkgconfig/openblas.pc
if [ "$ARM64_OPENBLAS" = 1 ] && [ ! -f $BLAS_PC ]; then
    echo "installing libopenblas-dev:arm64 (multiarch)"
    SUDO=
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then $SUDO dpkg --add-architecture arm64; fi
    { $SUDO apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libopenblas-dev:arm64; } ||
        echo "warning: libopenblas-dev:arm64 did not install; building without BLAS"
fi
USE_BLAS=OFF
if [ "$ARM64_OPENBLAS" = 1 ] && [ -f $BLAS_PC ]; then USE_BLAS=ON; fi
echo "OpenBLAS (arm64): $USE_BLAS"
$TRIPLE-gcc --version | head -1
"$QEMU" --version | head -1

# ---- 2. cross build -------------------------------------------------------------
section "configure + build ($BUILD)"
cmake -S . -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-toolchain.cmake" \
      -DCMAKE_BUILD_TYPE=Release -DCONVKIT_USE_OPENBLAS=$USE_BLAS -DCONVKIT_BUILD_TESTS=ON \
      -DCONVKIT_BUILD_EXAMPLES=ON >"$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" -j"$JOBS" 2>&1 | tee "$BUILD/build.log" | grep -E "warning:|error:" || true
if grep -q "warning:" "$BUILD/build.log"; then echo "FAIL: the aarch64 build has warnings"; exit 1; fi

# A probe that prints the dispatched ISA and the implementation each
# algorithm's plan picks (depthwise, pooling, direct, Winograd).
cat >"$BUILD/arm64-isa-probe.c" <<'EOF'
#include "convkit.h"
#include <stdio.h>
#include <stdlib.h>
static void conv(const char *what, ck_algorithm algo, int64_t c, int64_t k, int64_t groups) {
    ck_conv2d_desc d = ck_conv2d_desc_init(1, c, 12, 12, k, 3, 3);
    d.groups = groups;
    d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
    d.layout = CK_LAYOUT_NHWC;
    float *w = calloc((size_t)(k * (c / groups) * 9), sizeof(float));
    ck_plan_options o = {0};
    o.algorithm = algo;
    ck_plan *p = NULL;
    if (ck_conv2d_plan_create(&d, w, NULL, &o, &p) == CK_OK) printf("%s=%s ", what, ck_plan_impl_name(p));
    else printf("%s=declined ", what);
    ck_plan_destroy(p);
    free(w);
}
int main(void) {
    ck_cpu_info info;
    if (ck_get_cpu_info(&info) != CK_OK) return 1;
    printf("isa=%s ", ck_isa_name(info.dispatched_isa));
    conv("depthwise", CK_ALGO_DEPTHWISE, 16, 16, 16);
    conv("direct", CK_ALGO_DIRECT, 16, 32, 1);
    conv("winograd", CK_ALGO_WINOGRAD_F4, 16, 32, 1);
    ck_pool2d_desc pd = {CK_POOL_MAX, 1, 16, 8, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 0, CK_LAYOUT_NHWC};
    ck_plan *p = NULL;
    if (ck_pool2d_plan_create(&pd, NULL, &p) == CK_OK) printf("pool=%s", ck_plan_impl_name(p));
    ck_plan_destroy(p);
    printf("\n");
    return 0;
}
EOF
blas_flags=()
if [ $USE_BLAS = ON ]; then
    blas_dir=$(dirname "$(dirname $BLAS_PC)")
    blas_flags=(-L"$blas_dir" -lopenblas -Wl,-rpath,"$blas_dir" -Wl,-rpath-link,/usr/lib/$TRIPLE)
fi
$TRIPLE-gcc -std=c11 -O2 -Wall -Wextra -Werror -ICSources/include "$BUILD/arm64-isa-probe.c" \
    "$BUILD/libconvkit.a" "${blas_flags[@]}" -fopenmp -lm -lpthread -o "$BUILD/arm64-isa-probe"

run() { # run ISA_CAP BINARY... ; output to stdout
    local q=("$QEMU" -L "$SYSROOT" -E LD_LIBRARY_PATH="$SYSROOT/lib" -E CONVKIT_TEST_EMULATED=1)
    if [ "$1" = default ]; then shift; timeout "$TEST_TIMEOUT" "${q[@]}" "$@"
    else local cap=$1; shift; CONVKIT_MAX_ISA=$cap timeout "$TEST_TIMEOUT" "${q[@]}" "$@"; fi
}

# ---- 3. which kernels run ---------------------------------------------------------
section "dispatched kernels"
fail=0
for isa in default scalar; do
    out=$(run $isa "$BUILD/arm64-isa-probe" 2>&1) || { echo "$out"; echo "FAIL: probe ($isa)"; fail=1; continue; }
    echo "[$isa] $out"
    want=neon; [ $isa = scalar ] && want=scalar
    if ! echo "$out" | grep -q "isa=$want "; then echo "FAIL: expected dispatched ISA $want"; fail=1; fi
done

# ---- 4. tests -------------------------------------------------------------------
section "tests under qemu-aarch64"
mkdir -p "$BUILD/logs"
tests=()
for src in Tests/c/test_*.c; do tests+=("$(basename "$src" .c)"); done
[ -x "$BUILD/conv_example" ] && tests+=(conv_example)
summary=()
for t in "${tests[@]}"; do
    for isa in default scalar; do
        label=$isa; [ $isa = default ] && label=neon
        log="$BUILD/logs/$t.$label.log"
        t0=$SECONDS
        if run $isa "$BUILD/$t" >"$log" 2>&1; then status=PASS; else status="FAIL(rc=$?)"; fail=1; fi
        dt=$((SECONDS - t0))
        # the tests end with "<name>: all N checks passed" / "M of N checks FAILED" / "...skipped"
        what=$(grep -E "checks (passed|FAILED)|skipped" "$log" | tail -1 | sed -E 's/^[a-z_0-9]+: //' | cut -c1-80 || true)
        [ -n "$what" ] || what=$(tail -1 "$log" | cut -c1-80 || true)
        line=$(printf '%-16s %-7s %-11s %4ss  %s' "$t" "$label" "$status" "$dt" "$what")
        echo "$line"
        summary+=("$line")
    done
done

section "summary (aarch64 under qemu, $OMP_NUM_THREADS OpenMP threads, OpenBLAS $USE_BLAS)"
printf '%s\n' "${summary[@]}"
echo "total time: $((SECONDS - START))s; logs in $BUILD/logs/"
if [ $fail -ne 0 ]; then echo "arm64: FAILED"; exit 1; fi
echo "arm64: all passed"
