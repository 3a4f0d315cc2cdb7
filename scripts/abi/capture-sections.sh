#!/usr/bin/env bash
# Captures libbpf's SEC() decisions into test/fixtures/golden/libbpf-sections.json.
#  1. names: every name in scripts/abi/section-names.txt passed to the system libbpf's own
#     lookup (libbpf_prog_type_by_name, via scripts/abi/libbpf-section-names.ts);
#  2. loaded: for a set of sections that load on this kernel without extra setup, a tiny object is
#     built with clang-19, loaded with `bpftool prog loadall`, and the type bpftool reports for the
#     loaded program is recorded (the end-to-end view through Debian's bpftool 7.1 / libbpf 1.1.2).
# Needs root, clang-19, bpftool. Run from the repository root: bash scripts/abi/capture-sections.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=test/fixtures/golden/libbpf-sections.json
tmp=$(mktemp -d)
pin=/sys/fs/bpf/tsbpf-abi-capture-$$
trap 'rm -rf "$tmp"; rm -rf "$pin"' EXIT

npx tsx scripts/abi/libbpf-section-names.ts scripts/abi/section-names.txt > "$tmp/names.json"

loadable=(socket xdp xdp.frags tc classifier action tracepoint/syscalls/sys_enter_execve
  tp/sched/sched_switch raw_tp/sched_switch raw_tracepoint.w/sched_switch tp_btf/sched_switch
  kprobe/do_unlinkat uprobe perf_event cgroup_skb/ingress cgroup_skb/egress cgroup/sock_create
  cgroup/sock cgroup/post_bind4 cgroup/connect4 cgroup/sendmsg6 cgroup/dev cgroup/sysctl
  cgroup/getsockopt sockops sk_skb/stream_verdict sk_skb sk_msg flow_dissector sk_lookup lwt_in
  lwt_xmit sk_reuseport netfilter)

echo "{" > "$tmp/loaded.json"
first=1
for sec in "${loadable[@]}"; do
  cat > "$tmp/p.c" <<C
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("$sec") int prog(void *ctx) { return 1; }
char LICENSE[] SEC("license") = "GPL";
C
  clang-19 -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$tmp/p.c" -o "$tmp/p.o"
  rm -rf "$pin"
  if bpftool prog loadall "$tmp/p.o" "$pin" >"$tmp/log" 2>&1; then
    type=$(bpftool -j prog show pinned "$pin/prog" | sed -n 's/.*"type":"\([^"]*\)".*/\1/p')
    entry="{\"loaded\":true,\"type\":\"$type\"}"
  else
    entry="{\"loaded\":false}"
  fi
  [ $first = 1 ] || echo "," >> "$tmp/loaded.json"
  first=0
  printf '  "%s": %s' "$sec" "$entry" >> "$tmp/loaded.json"
done
echo "" >> "$tmp/loaded.json"
echo "}" >> "$tmp/loaded.json"

node -e '
const fs = require("fs");
const names = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const loaded = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const bpftool = require("child_process").execFileSync("bpftool", ["version"], { encoding: "utf8" }).split("\n")[0];
const golden = {
  comment: "Captured by scripts/abi/capture-sections.sh. names: libbpf_prog_type_by_name() of the system libbpf (attachTypeId 0 = none or cgroup_inet_ingress); loaded: program type bpftool shows after prog loadall; typeNames: libbpf_bpf_{prog,map,attach}_type_str() by id.",
  libbpf: names.libbpf, bpftool, names: names.names, typeNames: names.typeNames, loaded };
fs.writeFileSync(process.argv[3], JSON.stringify(golden, null, 1) + "\n");
' "$tmp/names.json" "$tmp/loaded.json" "$out"
echo "wrote $out"
