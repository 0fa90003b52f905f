# Sourced by the scripts that build with clang (check-clang.sh, fuzz.sh,
# sanitize.sh).  toolchain_clang prints the clang to use: $CLANG when set,
# else the clang next to swift (the compiler SwiftPM builds CSources with),
# else clang from PATH; nothing when there is none.
toolchain_clang() {
    if [ -n "${CLANG:-}" ]; then
        printf '%s\n' "$CLANG"
    elif command -v swift >/dev/null 2>&1 && [ -x "$(dirname "$(readlink -f "$(command -v swift)")")/clang" ]; then
        printf '%s\n' "$(dirname "$(readlink -f "$(command -v swift)")")/clang"
    elif command -v clang >/dev/null 2>&1; then
        printf '%s\n' clang
    fi
}
