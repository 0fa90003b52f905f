# Cross-compiling ConvKit's C core for aarch64 (arm64) Linux with Debian's
# cross toolchain (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross), running the
# tests under qemu-user:
#
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-toolchain.cmake \
#         -DCONVKIT_USE_OPENBLAS=OFF    (or ON with libopenblas-dev:arm64 installed)
#   cmake --build build-arm64 -j2 && ctest --test-dir build-arm64
#
# ctest runs every test through CMAKE_CROSSCOMPILING_EMULATOR (qemu-aarch64
# with the cross sysroot).  Scripts/arm64-test.sh does all of this.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CK_AARCH64_TRIPLE aarch64-linux-gnu CACHE STRING "Cross toolchain prefix")
set(CK_AARCH64_SYSROOT /usr/${CK_AARCH64_TRIPLE} CACHE PATH "Target libraries (libc, libgomp) for qemu")

find_program(CK_AARCH64_CC NAMES ${CK_AARCH64_TRIPLE}-gcc ${CK_AARCH64_TRIPLE}-gcc-12 REQUIRED)
set(CMAKE_C_COMPILER ${CK_AARCH64_CC})

# The cross sysroot, then / for Debian multiarch arm64 packages installed
# with dpkg --add-architecture arm64 (libopenblas-dev:arm64 lives in
# /usr/lib/aarch64-linux-gnu).  pkg-config only sees arm64 .pc files, so the
# host's x86-64 OpenBLAS is never picked up.
set(CMAKE_FIND_ROOT_PATH ${CK_AARCH64_SYSROOT} /)
set(ENV{PKG_CONFIG_LIBDIR}
    "/usr/lib/${CK_AARCH64_TRIPLE}/openblas-pthread/pkgconfig:/usr/lib/${CK_AARCH64_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(CK_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(CK_QEMU_AARCH64)
  # LD_LIBRARY_PATH pins the cross libc: with a multiarch libc6:arm64 also
  # installed, the loader would otherwise pick /lib/aarch64-linux-gnu/libc.so.6,
  # which does not match the cross ld.so (threaded programs then hang).
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CK_QEMU_AARCH64} -L ${CK_AARCH64_SYSROOT}
      -E LD_LIBRARY_PATH=${CK_AARCH64_SYSROOT}/lib)
endif()
