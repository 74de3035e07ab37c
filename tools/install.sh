#!/usr/bin/env bash
# Installs cha-deploy for C and C++ programs under a prefix:
#
#   include/cha_deploy.h, include/cha_deploy.hpp
#   lib/libcha_deploy.so.X.Y.Z, with libcha_deploy.so.X (the SONAME) and
#       libcha_deploy.so linking to it; stripped of debug info
#   lib/libcha_deploy.a: one object whose only global symbols are `cha_*`,
#       so that it links next to a program's own SQLite; stripped
#   lib/pkgconfig/cha_deploy.pc
#   lib/cmake/cha_deploy/cha_deployConfig.cmake (+ ConfigVersion): the
#       imported targets cha_deploy::cha_deploy (shared) and
#       cha_deploy::cha_deploy_static
#
# Usage: tools/install.sh [--prefix DIR] [--destdir DIR] [--profile release|debug]
#                         [--no-build] [--from DIR]
#   --prefix   where the files will live (default /usr/local); written into
#              the pkg-config file and found relative to itself by CMake
#   --destdir  a staging root the files are copied under (packaging)
#   --profile  which cargo build to install (default release)
#   --no-build install what is built already
#   --from     the folder of the built libraries (default target/<profile>)
# `make install PREFIX=...` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local
destdir=
profile=release
build=1
from=
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#*=}; shift ;;
        --destdir) destdir=$2; shift 2 ;;
        --destdir=*) destdir=${1#*=}; shift ;;
        --profile) profile=$2; shift 2 ;;
        --profile=*) profile=${1#*=}; shift ;;
        --no-build) build=0; shift ;;
        --from) from=$2; shift 2 ;;
        --from=*) from=${1#*=}; shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$prefix" in
    /*) ;;
    *) echo "install.sh: --prefix must be an absolute path, not $prefix" >&2; exit 2 ;;
esac
case "$profile" in
    release) cargo_profile=(--release); built=target/release ;;
    debug) cargo_profile=(); built=target/debug ;;
    *) echo "install.sh: --profile is release or debug, not $profile" >&2; exit 2 ;;
esac
for tool in ld objcopy ar strip; do
    command -v "$tool" >/dev/null || { echo "install.sh: $tool (binutils) is needed" >&2; exit 1; }
done

if [ "$build" = 1 ]; then
    cargo build "${cargo_profile[@]}" --lib
fi
if [ -n "$from" ]; then
    built=$from
elif [ -n "${CARGO_TARGET_DIR:-}" ]; then
    built="$CARGO_TARGET_DIR/$profile"
fi
for f in libcha_deploy.so libcha_deploy.a; do
    [ -f "$built/$f" ] || { echo "install.sh: $built/$f is missing; build first (or drop --no-build)" >&2; exit 1; }
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
major=${version%%.*}
root="$destdir$prefix"
libdir="$root/lib"
mkdir -p "$root/include" "$libdir/pkgconfig" "$libdir/cmake/cha_deploy"

install -m 0644 include/cha_deploy.h include/cha_deploy.hpp "$root/include/"

# The shared library: stripped; the SONAME (set at link time) is libcha_deploy.so.MAJOR.
install -m 0755 "$built/libcha_deploy.so" "$libdir/libcha_deploy.so.$version"
strip --strip-unneeded "$libdir/libcha_deploy.so.$version"
ln -sfn "libcha_deploy.so.$version" "$libdir/libcha_deploy.so.$major"
ln -sfn "libcha_deploy.so.$major" "$libdir/libcha_deploy.so"

# The static archive: Rust's staticlib is every object of the crate and its
# dependencies, bundled SQLite included, all with global symbols. Linked
# into one relocatable object, everything but the C ABI made local, debug
# info dropped: a program with its own sqlite3_* (or another Rust library)
# links beside it without clashes. The LLVM bitcode rustc embeds for
# cross-language LTO goes too: it is large, and binutils' LLVM plugin (an
# older LLVM than rustc's) aborts on it when ar indexes the archive.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ld -r --whole-archive "$built/libcha_deploy.a" -o "$work/all.o"
# Then again, keeping only what the C ABI's functions reach.
roots=$(readelf -Ws "$work/all.o" | awk '$5 == "GLOBAL" && $7 != "UND" && $8 ~ /^cha_/ { print "--require-defined=" $8 }' | sort -u)
[ -n "$roots" ] || { echo "install.sh: no cha_ symbols in $built/libcha_deploy.a" >&2; exit 1; }
# shellcheck disable=SC2086
ld -r --gc-sections $roots --whole-archive "$built/libcha_deploy.a" -o "$work/cha_deploy.o"
objcopy --wildcard --keep-global-symbol='cha_*' --strip-debug \
    --remove-section=.llvmbc --remove-section=.llvmcmd \
    "$work/cha_deploy.o" "$work/cha_deploy_local.o"
rm -f "$libdir/libcha_deploy.a"
ar rcsD "$libdir/libcha_deploy.a" "$work/cha_deploy_local.o"
chmod 0644 "$libdir/libcha_deploy.a"

# What a static link needs besides the archive (from `rustc --print
# native-static-libs`, less what the C compiler driver adds by itself).
private_libs="-lpthread -ldl -lm"

cat > "$libdir/pkgconfig/cha_deploy.pc" <<EOF
prefix=$prefix
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: cha_deploy
Description: Feature flags, A/B tests, monitoring, feedback and deployment in one SQLite file (CHA pipe sizing)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lcha_deploy
Libs.private: $private_libs
EOF

cat > "$libdir/cmake/cha_deploy/cha_deployConfig.cmake" <<'EOF'
# cha_deploy's CMake package: find_package(cha_deploy) gives the imported
# targets cha_deploy::cha_deploy (the shared library) and
# cha_deploy::cha_deploy_static (the static archive, with its system
# libraries). The paths are relative to this file, so the tree can move.
get_filename_component(_cha_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET cha_deploy::cha_deploy)
  add_library(cha_deploy::cha_deploy SHARED IMPORTED)
  set_target_properties(cha_deploy::cha_deploy PROPERTIES
    IMPORTED_LOCATION "${_cha_prefix}/lib/libcha_deploy.so.@MAJOR@"
    IMPORTED_SONAME "libcha_deploy.so.@MAJOR@"
    INTERFACE_INCLUDE_DIRECTORIES "${_cha_prefix}/include")
endif()

if(NOT TARGET cha_deploy::cha_deploy_static)
  find_package(Threads REQUIRED)
  add_library(cha_deploy::cha_deploy_static STATIC IMPORTED)
  set_target_properties(cha_deploy::cha_deploy_static PROPERTIES
    IMPORTED_LOCATION "${_cha_prefix}/lib/libcha_deploy.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_cha_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m")
endif()

unset(_cha_prefix)
set(cha_deploy_FOUND TRUE)
EOF
sed -i "s/@MAJOR@/$major/g" "$libdir/cmake/cha_deploy/cha_deployConfig.cmake"

cat > "$libdir/cmake/cha_deploy/cha_deployConfigVersion.cmake" <<EOF
# Compatible within a major version (the ABI's), as the SONAME says.
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION_MAJOR STREQUAL "$major" AND NOT PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
elseif(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
else()
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
endif()
EOF

echo "installed cha-deploy $version under $root"
echo "  build a C program:  cc app.c \$(pkg-config --cflags --libs cha_deploy)"
echo "  statically:         cc app.c $libdir/libcha_deploy.a \$(pkg-config --static --libs-only-other --libs-only-l cha_deploy | sed 's/-lcha_deploy//')"
[ "$prefix" = /usr/local ] || echo "  pkg-config:         PKG_CONFIG_PATH=$prefix/lib/pkgconfig"
