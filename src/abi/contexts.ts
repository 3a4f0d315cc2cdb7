/**
 * Program contexts: the structs a program's R1 points to, and which loads and stores of them the
 * 6.18 verifier accepts (each program type's `is_valid_access`, net/core/filter.c and
 * kernel/trace/bpf_trace.c), plus which loads produce pointers (packet data, socket, flow keys).
 *
 * Layouts follow the uapi header (/usr/include/linux/bpf.h, x86_64 for pt_regs) and are checked
 * against vmlinux BTF in test/abi/contexts.test.ts; access rules are checked there against the
 * running kernel by loading one access per (offset, size, direction).
 *
 * Modelled contexts: __sk_buff (socket_filter, sched_cls, sched_act, cgroup_skb, lwt_*, sk_skb,
 * flow_dissector), xdp_md, bpf_sock (cgroup_sock, and skb->sk), pt_regs (kprobe),
 * bpf_perf_event_data, raw tracepoint args, tracepoint records. Not modelled yet: sock_ops,
 * sk_msg_md, bpf_sock_addr, sk_lookup, sk_reuseport_md, sysctl, sockopt, cgroup_dev, BTF-typed
 * contexts (tracing, lsm, struct_ops, ext).
 */

/** One field of a context struct. Arrays are one field with `count` elements. */
export interface CtxField {
  readonly name: string;
  readonly offset: number;
  /** Total size in bytes (all elements for arrays). */
  readonly size: number;
  /** Element count for arrays (cb[5], remote_ip6[4], args[6]). */
  readonly count?: number;
  /** Kernel BTF spelling when it differs (pt_regs: rdi is `di`). */
  readonly kernelName?: string;
}

export interface CtxLayout {
  /** C struct name. */
  readonly struct: string;
  readonly size: number;
  readonly fields: readonly CtxField[];
}

function layout(
  struct: string,
  size: number,
  fields: readonly (readonly [string, number, number, number?])[],
): CtxLayout {
  return {
    struct,
    size,
    fields: fields.map(([name, offset, fsize, count]) => ({
      name,
      offset,
      size: fsize,
      ...(count !== undefined ? { count } : {}),
    })),
  };
}

/** `struct __sk_buff` (192 bytes). */
export const SK_BUFF: CtxLayout = layout("__sk_buff", 192, [
  ["len", 0, 4],
  ["pkt_type", 4, 4],
  ["mark", 8, 4],
  ["queue_mapping", 12, 4],
  ["protocol", 16, 4],
  ["vlan_present", 20, 4],
  ["vlan_tci", 24, 4],
  ["vlan_proto", 28, 4],
  ["priority", 32, 4],
  ["ingress_ifindex", 36, 4],
  ["ifindex", 40, 4],
  ["tc_index", 44, 4],
  ["cb", 48, 20, 5],
  ["hash", 68, 4],
  ["tc_classid", 72, 4],
  ["data", 76, 4],
  ["data_end", 80, 4],
  ["napi_id", 84, 4],
  ["family", 88, 4],
  ["remote_ip4", 92, 4],
  ["local_ip4", 96, 4],
  ["remote_ip6", 100, 16, 4],
  ["local_ip6", 116, 16, 4],
  ["remote_port", 132, 4],
  ["local_port", 136, 4],
  ["data_meta", 140, 4],
  ["flow_keys", 144, 8],
  ["tstamp", 152, 8],
  ["wire_len", 160, 4],
  ["gso_segs", 164, 4],
  ["sk", 168, 8],
  ["gso_size", 176, 4],
  ["tstamp_type", 180, 1],
  ["hwtstamp", 184, 8],
]);

/** `struct xdp_md` (24 bytes). */
export const XDP_MD: CtxLayout = layout("xdp_md", 24, [
  ["data", 0, 4],
  ["data_end", 4, 4],
  ["data_meta", 8, 4],
  ["ingress_ifindex", 12, 4],
  ["rx_queue_index", 16, 4],
  ["egress_ifindex", 20, 4],
]);

/** `struct bpf_sock` (80 bytes): cgroup_sock context, and what skb->sk / bpf_sk_fullsock() point to. */
export const BPF_SOCK: CtxLayout = layout("bpf_sock", 80, [
  ["bound_dev_if", 0, 4],
  ["family", 4, 4],
  ["type", 8, 4],
  ["protocol", 12, 4],
  ["mark", 16, 4],
  ["priority", 20, 4],
  ["src_ip4", 24, 4],
  ["src_ip6", 28, 16, 4],
  ["src_port", 44, 4],
  // __be16 dst_port followed by 2 bytes of padding
  ["dst_port", 48, 2],
  ["dst_ip4", 52, 4],
  ["dst_ip6", 56, 16, 4],
  ["state", 72, 4],
  ["rx_queue_mapping", 76, 4],
]);

/** x86_64 `struct pt_regs` as uapi spells it (168 bytes); kernelName is the in-kernel (BTF) name. */
export const PT_REGS: CtxLayout = {
  struct: "pt_regs",
  size: 168,
  fields: (
    [
      ["r15", "r15"],
      ["r14", "r14"],
      ["r13", "r13"],
      ["r12", "r12"],
      ["rbp", "bp"],
      ["rbx", "bx"],
      ["r11", "r11"],
      ["r10", "r10"],
      ["r9", "r9"],
      ["r8", "r8"],
      ["rax", "ax"],
      ["rcx", "cx"],
      ["rdx", "dx"],
      ["rsi", "si"],
      ["rdi", "di"],
      ["orig_rax", "orig_ax"],
      ["rip", "ip"],
      ["cs", "cs"],
      ["eflags", "flags"],
      ["rsp", "sp"],
      ["ss", "ss"],
    ] as const
  ).map(([name, kernelName], i) => ({
    name,
    offset: i * 8,
    size: 8,
    ...(kernelName !== name ? { kernelName } : {}),
  })),
};

/**
 * Where libbpf's PT_REGS_PARMn / PT_REGS_RC / PT_REGS_SP / PT_REGS_IP read on x86_64 (bpf_tracing.h):
 * the C calling convention's argument registers.
 */
export const PT_REGS_ARGS: Readonly<{ params: readonly string[]; rc: string; sp: string; ip: string }> = {
  params: ["rdi", "rsi", "rdx", "rcx", "r8", "r9"],
  rc: "rax",
  sp: "rsp",
  ip: "rip",
};

/** `struct bpf_perf_event_data` (184 bytes): the sampled registers, then sample_period and addr. */
export const BPF_PERF_EVENT_DATA: CtxLayout = layout("bpf_perf_event_data", 184, [
  ["regs", 0, 168],
  ["sample_period", 168, 8],
  ["addr", 176, 8],
]);

/** Raw tracepoints see `struct bpf_raw_tracepoint_args { __u64 args[]; }`; the verifier allows 12 (MAX_BPF_FUNC_ARGS). */
export const MAX_BPF_FUNC_ARGS = 12;
export const BPF_RAW_TRACEPOINT_ARGS: CtxLayout = layout("bpf_raw_tracepoint_args", 8 * MAX_BPF_FUNC_ARGS, [
  ["args", 0, 8 * MAX_BPF_FUNC_ARGS, MAX_BPF_FUNC_ARGS],
]);

/** The common header of every trace event record (`struct trace_entry`, the `common_*` format fields). */
export const TRACE_ENTRY: CtxLayout = layout("trace_entry", 8, [
  ["common_type", 0, 2],
  ["common_flags", 2, 1],
  ["common_preempt_count", 3, 1],
  ["common_pid", 4, 4],
]);

/** The raw_syscalls/sys_enter record (`struct trace_event_raw_sys_enter`): header, long id, unsigned long args[6]. */
export const TRACE_EVENT_RAW_SYS_ENTER: CtxLayout = {
  struct: "trace_event_raw_sys_enter",
  size: 64,
  fields: [
    ...TRACE_ENTRY.fields,
    { name: "id", offset: 8, size: 8 },
    { name: "args", offset: 16, size: 48, count: 6 },
  ],
};

/** Tracepoint programs may read [8, PERF_MAX_TRACE_SIZE) of the record, never the first 8 bytes. */
export const PERF_MAX_TRACE_SIZE = 8192;

export function fieldAt(l: CtxLayout, offset: number): CtxField | undefined {
  return l.fields.find((f) => offset >= f.offset && offset < f.offset + f.size);
}

export function fieldByName(l: CtxLayout, name: string): CtxField | undefined {
  return l.fields.find((f) => f.name === name || f.kernelName === name);
}

/** What a context load gives when it is not a plain scalar (the verifier's reg_type for it). */
export type CtxPointer =
  | "pkt" // PTR_TO_PACKET
  | "pkt_meta" // PTR_TO_PACKET_META
  | "pkt_end" // PTR_TO_PACKET_END
  | "sock_common_or_null" // PTR_TO_SOCK_COMMON_OR_NULL
  | "flow_keys" // PTR_TO_FLOW_KEYS
  | "tp_buffer"; // PTR_TO_TP_BUFFER

export type CtxAccessResult =
  | { readonly ok: true; readonly field?: CtxField; readonly pointer?: CtxPointer }
  | { readonly ok: false; readonly field?: CtxField };

export interface CtxAccessOptions {
  /** libbpf name of the program's expected attach type (xdp_devmap, cgroup_inet4_post_bind ...). */
  readonly expectedAttachType?: string;
  /** A sign-extending load (BPF_MEMSX), which packet pointer fields refuse. */
  readonly signExtend?: boolean;
}

/** The verifier's message for a refused context access. */
export function ctxAccessError(off: number, size: number): string {
  return `invalid bpf_context access off=${off} size=${size}`;
}

/** Power-of-two load no wider than the field (the kernel's bpf_ctx_narrow_access_ok). */
function narrowOk(size: number, fieldSize: number): boolean {
  return size <= fieldSize && (size & (size - 1)) === 0;
}

/** Per-program-type rules layered over the common __sk_buff rules (bpf_skb_is_valid_access). */
interface SkbProfile {
  /** Fields no access may touch. */
  readonly denied: readonly string[];
  /** Fields that may be stored to (everything else is read-only). */
  readonly writable: readonly string[];
  /** Fields whose load yields a pointer. */
  readonly pointers: Readonly<Record<string, CtxPointer>>;
  /** tc only: tstamp_type is readable as one byte. */
  readonly tstampTypeByte?: boolean;
}

const SOCK_ADDR_FIELDS = [
  "family",
  "remote_ip4",
  "local_ip4",
  "remote_ip6",
  "local_ip6",
  "remote_port",
  "local_port",
];

const SKB_PROFILES: Readonly<Record<string, SkbProfile>> = {
  // sk_filter_is_valid_access
  socket_filter: {
    denied: [
      "tc_classid",
      "data",
      "data_meta",
      "data_end",
      ...SOCK_ADDR_FIELDS,
      "tstamp",
      "wire_len",
      "hwtstamp",
    ],
    writable: ["cb"],
    pointers: {},
  },
  // tc_cls_act_is_valid_access
  sched_cls: {
    denied: SOCK_ADDR_FIELDS,
    writable: ["mark", "tc_index", "priority", "tc_classid", "cb", "tstamp", "queue_mapping"],
    pointers: { data: "pkt", data_meta: "pkt_meta", data_end: "pkt_end" },
    tstampTypeByte: true,
  },
  // cg_skb_is_valid_access (data, data_end and tstamp writes need CAP_BPF, assumed here)
  cgroup_skb: {
    denied: ["tc_classid", "data_meta", "wire_len"],
    writable: ["mark", "priority", "cb", "tstamp"],
    pointers: { data: "pkt", data_end: "pkt_end" },
  },
  // lwt_is_valid_access
  lwt_in: {
    denied: ["tc_classid", ...SOCK_ADDR_FIELDS, "data_meta", "tstamp", "wire_len", "hwtstamp"],
    writable: ["mark", "priority", "cb"],
    pointers: { data: "pkt", data_end: "pkt_end" },
  },
  // sk_skb_is_valid_access
  sk_skb: {
    denied: ["tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp", "mark"],
    writable: ["tc_index", "priority"],
    pointers: { data: "pkt", data_end: "pkt_end" },
  },
};

const SKB_PROFILE_OF: Readonly<Record<string, string>> = {
  socket_filter: "socket_filter",
  sched_cls: "sched_cls",
  sched_act: "sched_cls",
  cgroup_skb: "cgroup_skb",
  lwt_in: "lwt_in",
  lwt_out: "lwt_in",
  lwt_xmit: "lwt_in",
  lwt_seg6local: "lwt_in",
  sk_skb: "sk_skb",
};

function skbAccess(
  p: SkbProfile,
  off: number,
  size: number,
  write: boolean,
  o: CtxAccessOptions,
): CtxAccessResult {
  const field = fieldAt(SK_BUFF, off);
  const no: CtxAccessResult = field ? { ok: false, field } : { ok: false };
  if (off < 0 || off >= SK_BUFF.size || off % size !== 0) return no;
  if (!field) return no; // padding after tstamp_type
  if (p.denied.includes(field.name)) return no;
  if (write && !p.writable.includes(field.name)) return no;
  const yes: CtxAccessResult = p.pointers[field.name]
    ? { ok: true, field, pointer: p.pointers[field.name]! }
    : { ok: true, field };
  switch (field.name) {
    case "cb":
      return off + size <= field.offset + field.size ? yes : no;
    case "data":
    case "data_meta":
    case "data_end":
      return !o.signExtend && size === 4 ? yes : no;
    case "remote_ip6":
    case "local_ip6":
    case "remote_ip4":
    case "local_ip4":
      return size === 4 ? yes : no;
    case "flow_keys":
      return no;
    case "hwtstamp":
      return !write && size === 8 ? yes : no;
    case "tstamp":
      return size === 8 ? yes : no;
    case "sk":
      return !write && size === 8 ? { ok: true, field, pointer: "sock_common_or_null" } : no;
    case "tstamp_type":
      return p.tstampTypeByte && size === 1 ? yes : no;
    default:
      // Stores are whole u32 fields; loads may be narrower (1, 2 or 4 bytes).
      if (write) return size === 4 ? yes : no;
      return narrowOk(size, 4) ? yes : no;
  }
}

function flowDissectorAccess(
  off: number,
  size: number,
  write: boolean,
  o: CtxAccessOptions,
): CtxAccessResult {
  const field = fieldAt(SK_BUFF, off);
  const no: CtxAccessResult = field ? { ok: false, field } : { ok: false };
  if (!field || off % size !== 0 || write) return no;
  switch (field.name) {
    case "data":
      return !o.signExtend && size === 4 ? { ok: true, field, pointer: "pkt" } : no;
    case "data_end":
      return !o.signExtend && size === 4 ? { ok: true, field, pointer: "pkt_end" } : no;
    case "flow_keys":
      return size === 8 ? { ok: true, field, pointer: "flow_keys" } : no;
    default:
      return no;
  }
}

function xdpAccess(off: number, size: number, write: boolean, o: CtxAccessOptions): CtxAccessResult {
  const field = fieldAt(XDP_MD, off);
  const no: CtxAccessResult = field ? { ok: false, field } : { ok: false };
  if (!field) return no;
  if (field.name === "egress_ifindex" && off === field.offset && o.expectedAttachType !== "xdp_devmap")
    return no;
  // Stores only for offloaded programs (rx_queue_index), not modelled.
  if (write) return no;
  if (off % size !== 0 || size !== 4) return no;
  const pointers: Record<string, CtxPointer> = { data: "pkt", data_meta: "pkt_meta", data_end: "pkt_end" };
  const pointer = pointers[field.name];
  if (pointer) return o.signExtend ? no : { ok: true, field, pointer };
  return { ok: true, field };
}

/** bpf_sock_is_valid_access: the shape rules every bpf_sock access follows. */
function bpfSockShape(off: number, size: number): boolean {
  if (off < 0 || off >= BPF_SOCK.size || off % size !== 0) return false;
  const f = fieldAt(BPF_SOCK, off);
  if (!f) return false; // dst_port padding
  const exact = ["state", "family", "type", "protocol", "src_port", "rx_queue_mapping"];
  if (exact.includes(f.name) && off === f.offset) return narrowOk(size, 4);
  if (["src_ip4", "src_ip6", "dst_ip4", "dst_ip6"].includes(f.name)) return narrowOk(size, 4);
  if (f.name === "dst_port") return narrowOk(size, size === 4 ? 4 : 2);
  return size === 4;
}

/** Reads through a socket pointer (skb->sk after a NULL check, bpf_sk_fullsock(), ...); always read-only. */
export function checkSockAccess(kind: "sock_common" | "sock", off: number, size: number): CtxAccessResult {
  const field = fieldAt(BPF_SOCK, off);
  const no: CtxAccessResult = field ? { ok: false, field } : { ok: false };
  // bpf_sock_common_is_valid_access: type .. priority belong to full sockets only
  if (kind === "sock_common" && off >= 8 && off < 24) return no;
  return bpfSockShape(off, size) ? (field ? { ok: true, field } : { ok: true }) : no;
}

function cgroupSockAccess(off: number, size: number, write: boolean, o: CtxAccessOptions): CtxAccessResult {
  const field = fieldAt(BPF_SOCK, off);
  const no: CtxAccessResult = field ? { ok: false, field } : { ok: false };
  if (!field || !bpfSockShape(off, size)) return no;
  const attach = o.expectedAttachType ?? "cgroup_inet_sock_create";
  const yes: CtxAccessResult = { ok: true, field };
  // __sock_filter_check_attach_type
  if (["bound_dev_if", "mark", "priority"].includes(field.name) && off === field.offset) {
    return attach === "cgroup_inet_sock_create" || attach === "cgroup_inet_sock_release" ? yes : no;
  }
  if (field.name === "src_ip4") return attach === "cgroup_inet4_post_bind" && !write ? yes : no;
  if (field.name === "src_ip6") return attach === "cgroup_inet6_post_bind" && !write ? yes : no;
  if (field.name === "src_port" && off === field.offset)
    return (attach === "cgroup_inet4_post_bind" || attach === "cgroup_inet6_post_bind") && !write ? yes : no;
  return write ? no : yes;
}

function kprobeAccess(off: number, size: number, write: boolean): CtxAccessResult {
  const field = fieldAt(PT_REGS, off);
  // Loads of any aligned width within pt_regs. (Newer sources accept stores for uprobes; the
  // 6.18 kernel this was measured on refuses them.)
  if (write || off < 0 || off % size !== 0 || off + size > PT_REGS.size)
    return field ? { ok: false, field } : { ok: false };
  return field ? { ok: true, field } : { ok: true };
}

function perfEventAccess(off: number, size: number, write: boolean): CtxAccessResult {
  const field = fieldAt(BPF_PERF_EVENT_DATA, off);
  const no: CtxAccessResult = field ? { ok: false, field } : { ok: false };
  if (!field || write || off % size !== 0) return no;
  if (field.name === "sample_period" || field.name === "addr")
    return narrowOk(size, 8) ? { ok: true, field } : no;
  return size === 8 ? { ok: true, field } : no;
}

function rawTpAccess(off: number, size: number, write: boolean, writable: boolean): CtxAccessResult {
  const field = fieldAt(BPF_RAW_TRACEPOINT_ARGS, off);
  const no: CtxAccessResult = field ? { ok: false, field } : { ok: false };
  if (!field || write || off % size !== 0) return no;
  if (writable && off === 0) return size === 8 ? { ok: true, field, pointer: "tp_buffer" } : no;
  return { ok: true, field };
}

function tracepointAccess(off: number, size: number, write: boolean): CtxAccessResult {
  // tp_prog_is_valid_access compares the int offset with sizeof(void *): C converts a negative
  // offset to a huge unsigned value, so negative offsets pass that test (and the signed upper
  // bound), and the verifier accepts them. Measured: `r0 = *(u64 *)(r1 - 8)` loads.
  if (off >= 0 && off < 8) return { ok: false };
  if (off >= PERF_MAX_TRACE_SIZE || write || off % size !== 0) return { ok: false };
  return { ok: true };
}

/** The context struct a program type sees; undefined for the ones not modelled (see file comment). */
export function contextLayoutFor(progType: string): CtxLayout | undefined {
  if (SKB_PROFILE_OF[progType] || progType === "flow_dissector") return SK_BUFF;
  switch (progType) {
    case "xdp":
      return XDP_MD;
    case "cgroup_sock":
      return BPF_SOCK;
    case "kprobe":
      return PT_REGS;
    case "perf_event":
      return BPF_PERF_EVENT_DATA;
    case "raw_tracepoint":
    case "raw_tracepoint_writable":
      return BPF_RAW_TRACEPOINT_ARGS;
    case "tracepoint":
      return TRACE_ENTRY; // the rest of the record depends on the tracepoint: parseTracepointFormat()
    default:
      return undefined;
  }
}

/** Program types whose context accesses checkCtxAccess() models. */
export const CTX_MODELLED_PROG_TYPES: readonly string[] = [
  ...Object.keys(SKB_PROFILE_OF),
  "flow_dissector",
  "xdp",
  "cgroup_sock",
  "kprobe",
  "perf_event",
  "raw_tracepoint",
  "raw_tracepoint_writable",
  "tracepoint",
];

/**
 * Whether the verifier accepts a load (`write` false) or store of `size` bytes at context offset
 * `off` for a program type (bpftool name), and what pointer a load produces. Undefined for program
 * types not modelled. Mirrors the program type's is_valid_access; on refusal the kernel prints
 * ctxAccessError(off, size).
 */
export function checkCtxAccess(
  progType: string,
  off: number,
  size: number,
  write: boolean,
  opts: CtxAccessOptions = {},
): CtxAccessResult | undefined {
  if (![1, 2, 4, 8].includes(size)) return { ok: false };
  const skb = SKB_PROFILE_OF[progType];
  if (skb) return skbAccess(SKB_PROFILES[skb]!, off, size, write, opts);
  switch (progType) {
    case "flow_dissector":
      return flowDissectorAccess(off, size, write, opts);
    case "xdp":
      return xdpAccess(off, size, write, opts);
    case "cgroup_sock":
      return cgroupSockAccess(off, size, write, opts);
    case "kprobe":
      return kprobeAccess(off, size, write);
    case "perf_event":
      return perfEventAccess(off, size, write);
    case "raw_tracepoint":
      return rawTpAccess(off, size, write, false);
    case "raw_tracepoint_writable":
      return rawTpAccess(off, size, write, true);
    case "tracepoint":
      return tracepointAccess(off, size, write);
    default:
      return undefined;
  }
}

/** One field of a tracefs event `format` file. */
export interface TracepointField {
  /** C declaration type as written, e.g. `unsigned long`, `const char *`. */
  readonly type: string;
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly signed: boolean;
  /** Element count for `args[6]`-style arrays. */
  readonly count?: number;
}

export interface TracepointFormat {
  readonly name: string;
  readonly id: number;
  readonly fields: readonly TracepointField[];
}

/**
 * Parses `<tracefs>/events/<category>/<name>/format`. The record a tracepoint program sees is laid
 * out by these fields (the `common_*` header included; the program may read only from offset 8).
 */
export function parseTracepointFormat(text: string): TracepointFormat {
  const name = /^name: (\S+)$/m.exec(text)?.[1] ?? "";
  const id = Number(/^ID: (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
  const fields: TracepointField[] = [];
  for (const m of text.matchAll(/^\s*field:(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/gm)) {
    const decl = m[1]!.trim();
    const d = /^(.*?)\s*\b(\w+)(?:\[(\d*)\])?$/.exec(decl);
    const type = d ? d[1]!.trim() : decl;
    const fname = d ? d[2]! : decl;
    const count = d?.[3] ? Number(d[3]) : undefined;
    fields.push({
      type,
      name: fname,
      offset: Number(m[2]),
      size: Number(m[3]),
      signed: m[4] === "1",
      ...(count !== undefined ? { count } : {}),
    });
  }
  return { name, id, fields };
}
