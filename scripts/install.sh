#!/usr/bin/env bash
# Installs s3os for C and C++ programs, as a system library:
#
#   bash scripts/install.sh [--from DIR] PREFIX        (e.g. /usr/local, or $HOME/.local)
#
#   PREFIX/lib/libs3os.so.X.Y.Z     the shared library, with the links libs3os.so.<ABI> (its
#                                   soname: X while X > 0, else 0.Y; see build.rs) and libs3os.so
#   PREFIX/lib/libs3os.a            the static library
#   PREFIX/include/s3os.h, s3os.hpp the C header and the C++17 header
#   PREFIX/lib/pkgconfig/s3os.pc    pkg-config s3os (--static adds the system libraries)
#   PREFIX/lib/cmake/s3os/          find_package(s3os): targets s3os::s3os, s3os::s3os_static
#
# First builds the release library (cargo build --release --lib, in $CARGO_TARGET_DIR or
# target/, so an existing build is reused); --from DIR installs the libraries built in DIR
# instead. With DESTDIR set, the files go below $DESTDIR (for packaging) while s3os.pc still
# names PREFIX.
set -euo pipefail

usage() {
    echo "usage: $0 [--from DIR] PREFIX" >&2
    exit 2
}
built=""
if [ "${1:-}" = "--from" ]; then
    [ "$#" -ge 2 ] || usage
    built="$(realpath -m "$2")"
    shift 2
fi
[ "$#" -eq 1 ] || usage
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$(realpath -m "$1")"

if [ -z "$built" ]; then
    target_dir="$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")"
    (cd "$root" && CARGO_TARGET_DIR="$target_dir" cargo build --release --lib)
    built="$target_dir/release"
fi
for file in libs3os.so libs3os.a; do
    if [ ! -f "$built/$file" ]; then
        echo "$built/$file is missing" >&2
        exit 1
    fi
done

version_part() { sed -n "s/^#define S3OS_VERSION_$1 \([0-9][0-9]*\)$/\1/p" "$root/include/s3os.h"; }
version="$(version_part MAJOR).$(version_part MINOR).$(version_part PATCH)"
# build.rs decides the soname; the installed links follow what the library says.
soname="$(readelf -d "$built/libs3os.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')"
if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ || "$soname" != libs3os.so.* ]]; then
    echo "cannot tell the version ($version) or soname ($soname) of $built/libs3os.so" >&2
    exit 1
fi

dest="${DESTDIR:-}$prefix"
install -d "$dest/lib/pkgconfig" "$dest/lib/cmake/s3os" "$dest/include"
# install(1) replaces files by unlinking them first: running programs keep their copy.
install -m 755 "$built/libs3os.so" "$dest/lib/libs3os.so.$version"
ln -sfn "libs3os.so.$version" "$dest/lib/$soname"
ln -sfn "$soname" "$dest/lib/libs3os.so"
install -m 644 "$built/libs3os.a" "$dest/lib/libs3os.a"
install -m 644 "$root/include/s3os.h" "$root/include/s3os.hpp" "$dest/include/"
install -m 644 "$root/cmake/s3osConfig.cmake" "$root/cmake/s3osConfigVersion.cmake" \
    "$dest/lib/cmake/s3os/"
# Libs.private: what `cargo rustc --release --lib --crate-type staticlib -- --print
# native-static-libs` reports the static library needs from the system.
cat > "$dest/lib/pkgconfig/s3os.pc" <<EOF
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: s3os
Description: A native S3 object-store client with a C ABI
Version: $version
Libs: -L\${libdir} -ls3os
Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
Cflags: -I\${includedir}
EOF
chmod 644 "$dest/lib/pkgconfig/s3os.pc"
echo "installed s3os $version ($soname) into $dest"
