#!/usr/bin/env bash
# Compiles syscall_count.bpf.c into syscall_count.bpf.o next to it.
# Needs clang (19 by default; CLANG=... to override) and libbpf's headers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
CLANG="${CLANG:-clang-19}"
# -fdebug-compilation-dir keeps this machine's path out of the object.
"$CLANG" -O2 -g -Wall -target bpf -I/usr/include/x86_64-linux-gnu \
	-fdebug-compilation-dir=. -c syscall_count.bpf.c -o syscall_count.bpf.o
echo "built $(pwd)/syscall_count.bpf.o"
