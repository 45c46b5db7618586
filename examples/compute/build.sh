#!/bin/sh
# Build the example compute jobs to WebAssembly (wasm32-wasi, WASI preview 1) and copy them
# where the package ships them. Needs Debian's clang, lld, wasi-libc and
# libclang-rt-14-dev-wasm32 (the wasm32 compiler-rt builtins):
#
#   apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32
#   examples/compute/build.sh [OUT_DIR]
#
# The output is deterministic: no timestamps, no paths of the build machine (debug info
# is stripped, -ffile-prefix-map for anything left), a fixed optimisation level. A test
# (tests/networks/compute/test_examples_build.py) rebuilds and compares with the committed
# modules when clang is present.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-"$HERE/../../src/depinkit/networks/compute/examples"}
CC=${CC:-clang}
CFLAGS="--target=wasm32-wasi -O2 -std=c11 -Wall -Wextra -Werror -ffile-prefix-map=$HERE=."
LDFLAGS="-Wl,--strip-all -Wl,-z,stack-size=1048576"  # 1 MiB stack; no debug or name sections
mkdir -p "$OUT"
for name in render csvagg; do
    # shellcheck disable=SC2086 # flags are word lists on purpose
    "$CC" $CFLAGS $LDFLAGS -o "$OUT/$name.wasm.tmp" "$HERE/$name.c" -lm
    mv "$OUT/$name.wasm.tmp" "$OUT/$name.wasm"
done
