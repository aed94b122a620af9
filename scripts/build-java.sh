#!/usr/bin/env bash
# Builds the Java binding with the JDK alone (no Maven repository needed):
#   target/java/s3os.jar             the s3os package (Java 8 bytecode)
#   target/release/libs3os_jni.so    the JNI glue, linked to libs3os.so beside it ($ORIGIN)
# Run the JVM with -Djava.library.path=target/release, or set S3OS_JNI_LIBRARY to the file.
set -euo pipefail
cd "$(dirname "$0")/.."

# After `cargo test --release` (or `cargo build --release --lib --examples`) the library is
# there; building it here with --lib alone would resolve the SDK's features differently and
# rebuild it, so only a missing library is built.
if [ ! -f target/release/libs3os.so ]; then
    cargo build --release --lib
fi

javac_path="$(readlink -f "$(command -v javac)")"
jdk="${JAVA_HOME:-$(dirname "$(dirname "$javac_path")")}"
if [ ! -f "$jdk/include/jni.h" ]; then
    echo "build-java.sh: no jni.h under $jdk/include (set JAVA_HOME to a JDK)" >&2
    exit 1
fi

src=bindings/java/src/main
out=target/java
rm -rf "$out/classes" "$out/jni"
mkdir -p "$out/classes" "$out/jni"

# -h writes the JNI header the glue includes, so a signature mismatch fails the C build;
# doclint fails the build on a public item without documentation.
"$jdk/bin/javac" --release 8 -Xlint:all -Werror -Xdoclint:all/protected \
    -encoding UTF-8 -h "$out/jni" -d "$out/classes" "$src"/java/s3os/*.java
printf 'Automatic-Module-Name: s3os\n' > "$out/MANIFEST.MF"
"$jdk/bin/jar" --create --file "$out/s3os.jar" --manifest "$out/MANIFEST.MF" -C "$out/classes" .

cc -std=c11 -O2 -g -fPIC -shared -Wall -Wextra -Werror \
    -I "$jdk/include" -I "$jdk/include/linux" -I include -I "$out/jni" \
    "$src/c/s3os_jni.c" -o target/release/libs3os_jni.so \
    -L target/release -ls3os -Wl,-rpath,'$ORIGIN' -Wl,--no-undefined

# A library that carries an soname (libs3os.so.N) is looked up by that name beside the glue.
soname="$(readelf -d target/release/libs3os.so | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
if [ -n "$soname" ] && [ "$soname" != libs3os.so ]; then
    ln -sf libs3os.so "target/release/$soname"
fi

echo "built $out/s3os.jar and target/release/libs3os_jni.so"
