/**
 * Program types, attach types, and libbpf's SEC() name rules.
 *
 * Ids and names come from the kernel's BTF (kernel-enums.ts, generated). The section table holds
 * the facts of libbpf's `section_defs[]` (libbpf/libbpf src/libbpf.c, 2026 snapshot) as far as this
 * 6.18 kernel has the attach types they need: the post-6.18 `fsession*`, `fentry.multi*`,
 * `fexit.multi*` and `fsession.multi*` entries are left out because 6.18 has no
 * BPF_TRACE_FSESSION / *_MULTI attach types.
 */
import { KERNEL_ATTACH_TYPES, KERNEL_PROG_TYPES, type KernelEnumEntry } from "./kernel-enums.js";

/** An `enum bpf_prog_type` value: id, C name, and the name bpftool prints (`sched_cls`). */
export type ProgramType = KernelEnumEntry;
/** An `enum bpf_attach_type` value: id, C name, and libbpf's string (`cgroup_inet_ingress`). */
export type AttachType = KernelEnumEntry;

export const PROGRAM_TYPES: readonly ProgramType[] = KERNEL_PROG_TYPES;
export const ATTACH_TYPES: readonly AttachType[] = KERNEL_ATTACH_TYPES;

function indexBy<T, K>(list: readonly T[], key: (t: T) => K): ReadonlyMap<K, T> {
  return new Map(list.map((t) => [key(t), t]));
}

const progById = indexBy(PROGRAM_TYPES, (p) => p.id);
const progByName = new Map<string, ProgramType>([
  ...PROGRAM_TYPES.map((p) => [p.name, p] as const),
  ...PROGRAM_TYPES.map((p) => [p.kernelName, p] as const),
]);
const attachById = indexBy(ATTACH_TYPES, (a) => a.id);
const attachByName = new Map<string, AttachType>([
  ...ATTACH_TYPES.map((a) => [a.name, a] as const),
  ...ATTACH_TYPES.map((a) => [a.kernelName, a] as const),
]);

export function progTypeById(id: number): ProgramType | undefined {
  return progById.get(id);
}
/** By bpftool name (`xdp`) or kernel name (`BPF_PROG_TYPE_XDP`). */
export function progTypeByName(name: string): ProgramType | undefined {
  return progByName.get(name);
}
export function attachTypeById(id: number): AttachType | undefined {
  return attachById.get(id);
}
/** By libbpf name (`tcx_ingress`) or kernel name (`BPF_TCX_INGRESS`). */
export function attachTypeByName(name: string): AttachType | undefined {
  return attachByName.get(name);
}

/**
 * How a section pattern matches (libbpf `sec_def_matches`):
 * - `exact`: the whole name, e.g. `xdp`;
 * - `plus`: written `x+` in libbpf: `x` alone or `x/<anything>`, e.g. `tracepoint/syscalls/sys_enter_openat`;
 * - `prefix`: written `x/`: any name starting with `x/`.
 */
export type SectionMatch = "exact" | "plus" | "prefix";

/** libbpf's `enum sec_def_flags`, as booleans. */
export interface SectionFlags {
  /** Expected attach type may be dropped on kernels that do not know it (SEC_EXP_ATTACH_OPT). */
  readonly attachTypeOptional: boolean;
  /** Legacy marker for BPF_PROG_ATTACH-style programs (SEC_ATTACHABLE); libbpf itself ignores it. */
  readonly attachable: boolean;
  /** The target is a BTF id resolved at load: function, tracepoint typedef, LSM hook (SEC_ATTACH_BTF). */
  readonly attachBtf: boolean;
  /** Loaded with BPF_F_SLEEPABLE (0x10) (SEC_SLEEPABLE). */
  readonly sleepable: boolean;
  /** Loaded with BPF_F_XDP_HAS_FRAGS (0x20) (SEC_XDP_FRAGS). */
  readonly xdpFrags: boolean;
  /** USDT probe: libbpf switches the attach type to uprobe-multi when the kernel has it (SEC_USDT). */
  readonly usdt: boolean;
}

/** One row of the section table. */
export interface SectionDef {
  /** The pattern without libbpf's trailing `+`: `tracepoint`, `xdp/devmap`, `sk_skb/stream_parser`. */
  readonly pattern: string;
  readonly match: SectionMatch;
  /** bpftool name of the program type. */
  readonly progType: string;
  /** libbpf name of the expected attach type, when the section sets one. */
  readonly expectedAttachType?: string;
  readonly flags: SectionFlags;
}

type FlagName = "opt" | "attachable" | "btf" | "sleepable" | "frags" | "usdt";

function def(spec: string, progType: string, attach: string | null, ...flags: FlagName[]): SectionDef {
  const match: SectionMatch = spec.endsWith("+") ? "plus" : spec.endsWith("/") ? "prefix" : "exact";
  const pattern = match === "plus" ? spec.slice(0, -1) : spec;
  const has = (f: FlagName): boolean => flags.includes(f);
  return {
    pattern,
    match,
    progType,
    ...(attach !== null ? { expectedAttachType: attach } : {}),
    flags: {
      attachTypeOptional: has("opt"),
      attachable: has("attachable") || has("opt"),
      attachBtf: has("btf"),
      sleepable: has("sleepable"),
      xdpFrags: has("frags"),
      usdt: has("usdt"),
    },
  };
}

/**
 * libbpf's section table, in libbpf's order (first match wins, so order matters: `sk_reuseport/migrate`
 * before `sk_reuseport`, `xdp.frags/devmap` before `xdp.frags`...). `opt` = SEC_ATTACHABLE_OPT.
 */
export const SECTION_DEFS: readonly SectionDef[] = [
  def("socket", "socket_filter", null),
  def("sk_reuseport/migrate", "sk_reuseport", "sk_reuseport_select_or_migrate", "attachable"),
  def("sk_reuseport", "sk_reuseport", "sk_reuseport_select", "attachable"),
  def("kprobe+", "kprobe", null),
  def("uprobe+", "kprobe", null),
  def("uprobe.s+", "kprobe", null, "sleepable"),
  def("kretprobe+", "kprobe", null),
  def("uretprobe+", "kprobe", null),
  def("uretprobe.s+", "kprobe", null, "sleepable"),
  def("kprobe.multi+", "kprobe", "trace_kprobe_multi"),
  def("kretprobe.multi+", "kprobe", "trace_kprobe_multi"),
  def("kprobe.session+", "kprobe", "trace_kprobe_session"),
  def("uprobe.multi+", "kprobe", "trace_uprobe_multi"),
  def("uretprobe.multi+", "kprobe", "trace_uprobe_multi"),
  def("uprobe.session+", "kprobe", "trace_uprobe_session"),
  def("uprobe.multi.s+", "kprobe", "trace_uprobe_multi", "sleepable"),
  def("uretprobe.multi.s+", "kprobe", "trace_uprobe_multi", "sleepable"),
  def("uprobe.session.s+", "kprobe", "trace_uprobe_session", "sleepable"),
  def("ksyscall+", "kprobe", null),
  def("kretsyscall+", "kprobe", null),
  def("usdt+", "kprobe", null, "usdt"),
  def("usdt.s+", "kprobe", null, "usdt", "sleepable"),
  // tc/ingress and tc/egress are libbpf's aliases for tcx.
  def("tc/ingress", "sched_cls", "tcx_ingress"),
  def("tc/egress", "sched_cls", "tcx_egress"),
  def("tcx/ingress", "sched_cls", "tcx_ingress"),
  def("tcx/egress", "sched_cls", "tcx_egress"),
  def("tc", "sched_cls", null),
  def("classifier", "sched_cls", null),
  def("action", "sched_act", null),
  def("netkit/primary", "sched_cls", "netkit_primary"),
  def("netkit/peer", "sched_cls", "netkit_peer"),
  def("tracepoint+", "tracepoint", null),
  def("tp+", "tracepoint", null),
  def("tracepoint.s+", "tracepoint", null, "sleepable"),
  def("tp.s+", "tracepoint", null, "sleepable"),
  def("raw_tracepoint+", "raw_tracepoint", null),
  def("raw_tp+", "raw_tracepoint", null),
  def("raw_tracepoint.s+", "raw_tracepoint", null, "sleepable"),
  def("raw_tp.s+", "raw_tracepoint", null, "sleepable"),
  def("raw_tracepoint.w+", "raw_tracepoint_writable", null),
  def("raw_tp.w+", "raw_tracepoint_writable", null),
  def("tp_btf+", "tracing", "trace_raw_tp", "btf"),
  def("tp_btf.s+", "tracing", "trace_raw_tp", "btf", "sleepable"),
  def("fentry+", "tracing", "trace_fentry", "btf"),
  def("fmod_ret+", "tracing", "modify_return", "btf"),
  def("fexit+", "tracing", "trace_fexit", "btf"),
  def("fentry.s+", "tracing", "trace_fentry", "btf", "sleepable"),
  def("fmod_ret.s+", "tracing", "modify_return", "btf", "sleepable"),
  def("fexit.s+", "tracing", "trace_fexit", "btf", "sleepable"),
  def("freplace+", "ext", null, "btf"),
  def("lsm+", "lsm", "lsm_mac", "btf"),
  def("lsm.s+", "lsm", "lsm_mac", "btf", "sleepable"),
  def("lsm_cgroup+", "lsm", "lsm_cgroup", "btf"),
  def("iter+", "tracing", "trace_iter", "btf"),
  def("iter.s+", "tracing", "trace_iter", "btf", "sleepable"),
  def("syscall", "syscall", null, "sleepable"),
  def("xdp.frags/devmap", "xdp", "xdp_devmap", "frags"),
  def("xdp/devmap", "xdp", "xdp_devmap", "attachable"),
  def("xdp.frags/cpumap", "xdp", "xdp_cpumap", "frags"),
  def("xdp/cpumap", "xdp", "xdp_cpumap", "attachable"),
  def("xdp.frags", "xdp", "xdp", "frags"),
  def("xdp", "xdp", "xdp", "opt"),
  def("perf_event", "perf_event", null),
  def("lwt_in", "lwt_in", null),
  def("lwt_out", "lwt_out", null),
  def("lwt_xmit", "lwt_xmit", null),
  def("lwt_seg6local", "lwt_seg6local", null),
  def("sockops", "sock_ops", "cgroup_sock_ops", "opt"),
  def("sk_skb/stream_parser", "sk_skb", "sk_skb_stream_parser", "opt"),
  def("sk_skb/stream_verdict", "sk_skb", "sk_skb_stream_verdict", "opt"),
  def("sk_skb/verdict", "sk_skb", "sk_skb_verdict", "opt"),
  def("sk_skb", "sk_skb", null),
  def("sk_msg", "sk_msg", "sk_msg_verdict", "opt"),
  def("lirc_mode2", "lirc_mode2", "lirc_mode2", "opt"),
  def("flow_dissector", "flow_dissector", "flow_dissector", "opt"),
  def("cgroup_skb/ingress", "cgroup_skb", "cgroup_inet_ingress", "opt"),
  def("cgroup_skb/egress", "cgroup_skb", "cgroup_inet_egress", "opt"),
  def("cgroup/skb", "cgroup_skb", null),
  def("cgroup/sock_create", "cgroup_sock", "cgroup_inet_sock_create", "attachable"),
  def("cgroup/sock_release", "cgroup_sock", "cgroup_inet_sock_release", "attachable"),
  def("cgroup/sock", "cgroup_sock", "cgroup_inet_sock_create", "opt"),
  def("cgroup/post_bind4", "cgroup_sock", "cgroup_inet4_post_bind", "attachable"),
  def("cgroup/post_bind6", "cgroup_sock", "cgroup_inet6_post_bind", "attachable"),
  def("cgroup/bind4", "cgroup_sock_addr", "cgroup_inet4_bind", "attachable"),
  def("cgroup/bind6", "cgroup_sock_addr", "cgroup_inet6_bind", "attachable"),
  def("cgroup/connect4", "cgroup_sock_addr", "cgroup_inet4_connect", "attachable"),
  def("cgroup/connect6", "cgroup_sock_addr", "cgroup_inet6_connect", "attachable"),
  def("cgroup/connect_unix", "cgroup_sock_addr", "cgroup_unix_connect", "attachable"),
  def("cgroup/sendmsg4", "cgroup_sock_addr", "cgroup_udp4_sendmsg", "attachable"),
  def("cgroup/sendmsg6", "cgroup_sock_addr", "cgroup_udp6_sendmsg", "attachable"),
  def("cgroup/sendmsg_unix", "cgroup_sock_addr", "cgroup_unix_sendmsg", "attachable"),
  def("cgroup/recvmsg4", "cgroup_sock_addr", "cgroup_udp4_recvmsg", "attachable"),
  def("cgroup/recvmsg6", "cgroup_sock_addr", "cgroup_udp6_recvmsg", "attachable"),
  def("cgroup/recvmsg_unix", "cgroup_sock_addr", "cgroup_unix_recvmsg", "attachable"),
  def("cgroup/getpeername4", "cgroup_sock_addr", "cgroup_inet4_getpeername", "attachable"),
  def("cgroup/getpeername6", "cgroup_sock_addr", "cgroup_inet6_getpeername", "attachable"),
  def("cgroup/getpeername_unix", "cgroup_sock_addr", "cgroup_unix_getpeername", "attachable"),
  def("cgroup/getsockname4", "cgroup_sock_addr", "cgroup_inet4_getsockname", "attachable"),
  def("cgroup/getsockname6", "cgroup_sock_addr", "cgroup_inet6_getsockname", "attachable"),
  def("cgroup/getsockname_unix", "cgroup_sock_addr", "cgroup_unix_getsockname", "attachable"),
  def("cgroup/sysctl", "cgroup_sysctl", "cgroup_sysctl", "attachable"),
  def("cgroup/getsockopt", "cgroup_sockopt", "cgroup_getsockopt", "attachable"),
  def("cgroup/setsockopt", "cgroup_sockopt", "cgroup_setsockopt", "attachable"),
  def("cgroup/dev", "cgroup_device", "cgroup_device", "opt"),
  def("struct_ops+", "struct_ops", null),
  def("struct_ops.s+", "struct_ops", null, "sleepable"),
  def("sk_lookup", "sk_lookup", "sk_lookup", "attachable"),
  def("netfilter", "netfilter", "netfilter"),
];

// A typo in the table above must fail at import, not as a wrong answer later.
for (const d of SECTION_DEFS) {
  if (!progByName.has(d.progType)) throw new Error(`section table: unknown program type ${d.progType}`);
  if (d.expectedAttachType && !attachByName.has(d.expectedAttachType))
    throw new Error(`section table: unknown attach type ${d.expectedAttachType}`);
}

/** What a SEC() name means. */
export interface SectionInfo {
  /** The section name as given (with any leading `?`). */
  readonly section: string;
  readonly def: SectionDef;
  readonly progType: ProgramType;
  readonly expectedAttachType?: AttachType;
  readonly flags: SectionFlags;
  /** False for `SEC("?...")`: libbpf does not load such a program unless asked. */
  readonly autoload: boolean;
  /**
   * What follows the matched pattern and its `/`: `syscalls/sys_enter_execve` for
   * `tracepoint/syscalls/sys_enter_execve`, `do_unlinkat` for `kprobe/do_unlinkat`,
   * `/bin/bash:readline` for `uprobe//bin/bash:readline`; undefined when there is nothing.
   */
  readonly attachTarget?: string;
}

function matches(d: SectionDef, name: string): boolean {
  switch (d.match) {
    case "exact":
      return name === d.pattern;
    case "prefix":
      return name.startsWith(d.pattern);
    case "plus":
      return name === d.pattern || name.startsWith(`${d.pattern}/`);
  }
}

/** The table row libbpf would pick for `name` (leading `?` already removed), first match wins. */
export function findSectionDef(name: string): SectionDef | undefined {
  return SECTION_DEFS.find((d) => matches(d, name));
}

/** Program type, attach type, flags and target for a SEC() name; undefined if libbpf would not know it. */
export function programTypeForSection(sectionName: string): SectionInfo | undefined {
  const autoload = !sectionName.startsWith("?");
  const name = autoload ? sectionName : sectionName.slice(1);
  const d = findSectionDef(name);
  if (!d) return undefined;
  let attachTarget: string | undefined;
  if (d.match === "plus" && name.length > d.pattern.length) attachTarget = name.slice(d.pattern.length + 1);
  else if (d.match === "prefix") attachTarget = name.slice(d.pattern.length);
  const progType = progByName.get(d.progType)!;
  const expectedAttachType = d.expectedAttachType ? attachByName.get(d.expectedAttachType) : undefined;
  return {
    section: sectionName,
    def: d,
    progType,
    ...(expectedAttachType ? { expectedAttachType } : {}),
    flags: d.flags,
    autoload,
    ...(attachTarget ? { attachTarget } : {}),
  };
}

/**
 * Edit distance counting insertions, deletions, substitutions and swaps of two neighbouring
 * characters as one each (optimal string alignment), so `xpd` is one step from `xdp`.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The spelling of a known section closest to `name`, for "did you mean" hints: `tracepoint/` for
 * `tracepont/syscalls/x`, `xdp` for `xpd`. Patterns that take a target are compared with the
 * part of `name` up to its first `/`; whole-name patterns with the whole name. Undefined when
 * nothing is close (more than a third of the word differs).
 */
export function closestKnownSection(name: string): string | undefined {
  const bare = name.startsWith("?") ? name.slice(1) : name;
  const slash = bare.indexOf("/");
  const head = slash < 0 ? bare : bare.slice(0, slash);
  let best: { spelling: string; distance: number } | undefined;
  for (const d of SECTION_DEFS) {
    const takesTarget = d.match !== "exact";
    const base = d.match === "prefix" ? d.pattern.slice(0, -1) : d.pattern;
    const spelling = takesTarget ? `${base}/` : base;
    // Whole-name patterns containing a slash (cgroup/connect4) compare against the whole name.
    const subject = takesTarget ? head : bare;
    const distance = editDistance(base, subject);
    if (!best || distance < best.distance) best = { spelling, distance };
  }
  if (!best) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(head.length, 3) / 3));
  return best.distance <= limit ? best.spelling : undefined;
}

/**
 * Sections current libbpf knows whose attach types came after 6.18 (so the table above leaves them
 * out): pattern (matched like `x+`) -> the attach type it needs.
 */
export const POST_6_18_SECTIONS: Readonly<Record<string, string>> = {
  fsession: "trace_fsession",
  "fsession.s": "trace_fsession",
  "fsession.multi": "trace_fsession_multi",
  "fsession.multi.s": "trace_fsession_multi",
  "fentry.multi": "trace_fentry_multi",
  "fexit.multi": "trace_fexit_multi",
  "fentry.multi.s": "trace_fentry_multi",
  "fexit.multi.s": "trace_fexit_multi",
};

/** The one-line error for a section libbpf would not know (or this kernel cannot load). */
export function unknownSectionMessage(name: string): string {
  const bare = name.startsWith("?") ? name.slice(1) : name;
  for (const [pattern, attach] of Object.entries(POST_6_18_SECTIONS)) {
    if (bare === pattern || bare.startsWith(`${pattern}/`))
      return `section '${name}' needs attach type ${attach}, which this kernel (6.18) does not have`;
  }
  const hint = closestKnownSection(name);
  return hint ? `unknown section '${name}': did you mean '${hint}'?` : `unknown section '${name}'`;
}
