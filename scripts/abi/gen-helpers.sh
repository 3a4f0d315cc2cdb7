#!/usr/bin/env bash
# Regenerates the committed helper tables of src/abi (tests and runtime never run this):
#   kernel-enums.ts        helper ids and names (and prog/map/attach type enums) from the running
#                          kernel's BTF, via bpftool                       -> gen-kernel-enums.ts
#   helper-protos.ts       prototypes and get_func_proto switches, only when a kernel source tree
#                          is given as $1 (label $2, e.g. 6.18.19)          -> gen-helper-protos.ts
#   helper-availability.ts from test/fixtures/golden/helper-availability.json; re-measure that first
#                          with capture-helper-availability.ts (root) after a kernel change
# Usage (repository root): bash scripts/abi/gen-helpers.sh [<linux-source-dir> [<version label>]]
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v bpftool >/dev/null || { echo "gen-helpers: bpftool is needed" >&2; exit 2; }
npx tsx scripts/abi/gen-kernel-enums.ts
if [ $# -ge 1 ]; then
  npx tsx scripts/abi/gen-helper-protos.ts "$1" "${2:-unknown}"
fi
npx tsx scripts/abi/gen-helper-availability.ts
npx biome check --write src/abi/kernel-enums.ts src/abi/helper-protos.ts src/abi/helper-availability.ts >/dev/null
git status --short src/abi
