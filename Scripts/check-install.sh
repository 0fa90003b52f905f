#!/usr/bin/env bash
# Build the C core with CMake, run ctest, install into a temporary prefix and
# build + run the examples against the installed library:
#   - Examples/c/conv_example.c through pkg-config (convkit.pc), and
#   - Examples/cmake-consumer through find_package(ConvKit).
# Usage: Scripts/check-install.sh [BUILD_DIR]   (default: build-check)
# Environment: JOBS (default 2), CC (compiler for the pkg-config example, default cc),
#              SKIP_CTEST=1 (skip the ctest stage, e.g. when only checking packaging).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build-check}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
JOBS=${JOBS:-2}
CC_BIN=${CC:-cc}

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/convkit-install.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
PREFIX="$STAGE/prefix"

step() { printf '\n--- %s\n' "$*"; }

step "configure + build (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCONVKIT_BUILD_TESTS=ON -DCONVKIT_BUILD_EXAMPLES=ON
cmake --build "$BUILD" -j"$JOBS"

if [ "${SKIP_CTEST:-0}" != 1 ]; then
    step "ctest"
    ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS"
fi

step "install into a temporary prefix"
cmake --install "$BUILD" --prefix "$PREFIX"
PCDIR=$(dirname "$(find "$PREFIX" -name convkit.pc -print -quit)")
LIBDIR=$(dirname "$PCDIR")
test -f "$PREFIX/include/convkit.h"
test -f "$LIBDIR/libconvkit.a"
test -e "$LIBDIR/libconvkit.so"
test -f "$LIBDIR/cmake/ConvKit/ConvKitConfig.cmake"
test -f "$LIBDIR/cmake/ConvKit/ConvKitConfigVersion.cmake"

step "Examples/c/conv_example.c via pkg-config (shared)"
export PKG_CONFIG_PATH="$PCDIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
echo "pkg-config --cflags --libs convkit: $(pkg-config --cflags --libs convkit)"
# shellcheck disable=SC2046
"$CC_BIN" -std=c11 -Wall -Wextra -Werror -O2 "$ROOT/Examples/c/conv_example.c" -o "$STAGE/conv_example" \
    $(pkg-config --cflags --libs convkit)
LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$STAGE/conv_example"

step "Examples/c/quickstart.c (the README's C example) via pkg-config"
# shellcheck disable=SC2046
"$CC_BIN" -std=c11 -Wall -Wextra -Werror -O2 "$ROOT/Examples/c/quickstart.c" -o "$STAGE/quickstart" \
    $(pkg-config --cflags --libs convkit)
LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$STAGE/quickstart"

step "Examples/c/conv_example.c against libconvkit.a (pkg-config --static flags)"
# libconvkit.a itself plus its Libs.private / Requires.private.  Debian's
# openblas.pc lists -lgfortran for a fully static OpenBLAS; we link the shared
# libopenblas, which does not need it (and libgfortran-dev may be absent).
STATIC_LIBS=$(pkg-config --static --libs convkit | sed -e 's/\(^\| \)-lconvkit\( \|$\)/ /' -e 's/ -lgfortran\b//g')
echo "static link flags: $STATIC_LIBS"
# shellcheck disable=SC2086
"$CC_BIN" -std=c11 -O2 "$ROOT/Examples/c/conv_example.c" -o "$STAGE/conv_example_static" \
    $(pkg-config --cflags convkit) "$LIBDIR/libconvkit.a" $STATIC_LIBS
"$STAGE/conv_example_static"

step "Examples/cmake-consumer via find_package(ConvKit)"
cmake -S "$ROOT/Examples/cmake-consumer" -B "$STAGE/consumer" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release
cmake --build "$STAGE/consumer" -j"$JOBS"
"$STAGE/consumer/consumer"
"$STAGE/consumer/consumer_static"

step "check-install: OK"
