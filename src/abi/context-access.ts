/**
 * Which loads and stores of a program's context the 6.18 verifier accepts (each program type's
 * `is_valid_access`: net/core/filter.c, kernel/trace/bpf_trace.c, kernel/bpf/cgroup.c), and which
 * loads produce pointers (packet data, sockets, flow keys). Checked in test/abi/contexts.test.ts
 * against the running kernel by loading one access per (offset, size, direction).
 *
 * Modelled: __sk_buff (socket_filter, sched_cls, sched_act, cgroup_skb, lwt_*, sk_skb,
 * flow_dissector), xdp_md, bpf_sock (cgroup_sock, and skb->sk), pt_regs (kprobe),
 * bpf_perf_event_data, raw tracepoint args, tracepoint records, bpf_sock_addr, bpf_sock_ops,
 * sk_msg_md, bpf_sk_lookup, sk_reuseport_md, bpf_sysctl, bpf_sockopt, bpf_cgroup_dev_ctx.
 * Not modelled: BTF-typed contexts (tracing, lsm, struct_ops, ext), lirc_mode2, netfilter, syscall.
 */
import {
  BPF_CGROUP_DEV_CTX,
  BPF_PERF_EVENT_DATA,
  BPF_RAW_TRACEPOINT_ARGS,
  BPF_SK_LOOKUP,
  BPF_SOCK,
  BPF_SOCK_ADDR,
  BPF_SOCK_OPS,
  BPF_SOCKOPT,
  BPF_SYSCTL,
  type CtxField,
  contextLayoutFor,
  fieldAt,
  fieldByName,
  PERF_MAX_TRACE_SIZE,
  PT_REGS,
  SK_BUFF,
  SK_MSG_MD,
  SK_REUSEPORT_MD,
  XDP_MD,
} from "./contexts.js";

/** What a context load gives when it is not a plain scalar (the verifier's reg_type for it). */
export type CtxPointer =
  | "pkt" // PTR_TO_PACKET
  | "pkt_meta" // PTR_TO_PACKET_META
  | "pkt_end" // PTR_TO_PACKET_END
  | "sock_common_or_null" // PTR_TO_SOCK_COMMON_OR_NULL
  | "sock" // PTR_TO_SOCKET
  | "sock_or_null" // PTR_TO_SOCKET_OR_NULL
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

/** struct bpf_tcp_sock: u32 fields up to icsk_retransmits, but bytes_received/bytes_acked are u64. */
const BPF_TCP_SOCK_END = 112;
const BPF_TCP_SOCK_U64: readonly number[] = [80, 88];

/**
 * Reads through PTR_TO_TCP_SOCK (bpf_tcp_sock_is_valid_access) and PTR_TO_XDP_SOCK
 * (bpf_xdp_sock_is_valid_access: only the u32 queue_id): whole fields, no narrow loads.
 */
export function checkTcpSockAccess(kind: "tcp_sock" | "xdp_sock", off: number, size: number): boolean {
  const end = kind === "tcp_sock" ? BPF_TCP_SOCK_END : 4;
  if (off < 0 || off >= end || off % size !== 0) return false;
  return kind === "tcp_sock" && BPF_TCP_SOCK_U64.includes(off) ? size === 8 : size === 4;
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

function result(field: CtxField | undefined, ok: boolean, pointer?: CtxPointer): CtxAccessResult {
  if (!ok) return field ? { ok: false, field } : { ok: false };
  return { ok: true, ...(field ? { field } : {}), ...(pointer ? { pointer } : {}) };
}

/** 8-byte access to two u32 elements of an array field (the kernel's bpf_ctx_wide_access_ok). */
function wideOk(off: number, size: number, f: CtxField | undefined): boolean {
  return f !== undefined && size === 8 && off >= f.offset && off + 8 <= f.offset + f.size && off % 8 === 0;
}

const SOCK_ADDR_FAMILY_FIELDS: Readonly<Record<string, readonly string[]>> = {
  user_ip4: [
    "cgroup_inet4_bind",
    "cgroup_inet4_connect",
    "cgroup_inet4_getpeername",
    "cgroup_inet4_getsockname",
    "cgroup_udp4_sendmsg",
    "cgroup_udp4_recvmsg",
  ],
  user_ip6: [
    "cgroup_inet6_bind",
    "cgroup_inet6_connect",
    "cgroup_inet6_getpeername",
    "cgroup_inet6_getsockname",
    "cgroup_udp6_sendmsg",
    "cgroup_udp6_recvmsg",
  ],
  msg_src_ip4: ["cgroup_udp4_sendmsg"],
  msg_src_ip6: ["cgroup_udp6_sendmsg"],
};

// sock_addr_is_valid_access
function sockAddrAccess(off: number, size: number, write: boolean, o: CtxAccessOptions): CtxAccessResult {
  const f = fieldAt(BPF_SOCK_ADDR, off);
  if (off < 0 || off >= BPF_SOCK_ADDR.size || off % size !== 0 || !f) return result(f, false);
  const families = SOCK_ADDR_FAMILY_FIELDS[f.name];
  if (families && !families.includes(o.expectedAttachType ?? "")) return result(f, false);
  switch (f.name) {
    case "user_ip4":
    case "user_ip6":
    case "msg_src_ip4":
    case "msg_src_ip6":
    case "user_port": {
      const wide =
        wideOk(off, size, fieldByName(BPF_SOCK_ADDR, "user_ip6")) ||
        wideOk(off, size, fieldByName(BPF_SOCK_ADDR, "msg_src_ip6"));
      if (wide) return result(f, true);
      return result(f, write ? size === 4 : narrowOk(size, 4));
    }
    case "sk":
      return result(f, !write && size === 8, "sock");
    case "user_family":
    case "family":
    case "type":
    case "protocol":
      return result(f, !write && size === 4);
    default:
      return result(f, false);
  }
}

// sock_ops_is_valid_access
function sockOpsAccess(off: number, size: number, write: boolean): CtxAccessResult {
  const f = fieldAt(BPF_SOCK_OPS, off);
  if (off < 0 || off >= BPF_SOCK_OPS.size || off % size !== 0) return result(f, false);
  if (write) return result(f, (off === 4 || off === 164) && size === 4); // reply, sk_txhash
  switch (f?.name) {
    case "bytes_received":
    case "bytes_acked":
    case "skb_hwtstamp":
      return result(f, size === 8);
    case "sk":
      return result(f, size === 8, "sock_or_null");
    case "skb_data":
      return result(f, size === 8, "pkt");
    case "skb_data_end":
      return result(f, size === 8, "pkt_end");
    case "skb_tcp_flags":
      if (off === f.offset) return result(f, narrowOk(size, 4));
      return result(f, size === 4);
    default:
      return result(f, size === 4);
  }
}

// sk_msg_is_valid_access
function skMsgAccess(off: number, size: number, write: boolean): CtxAccessResult {
  const f = fieldAt(SK_MSG_MD, off);
  if (write || off % size !== 0 || !f) return result(f, false);
  switch (f.name) {
    case "data":
      return result(f, size === 8, "pkt");
    case "data_end":
      return result(f, size === 8, "pkt_end");
    case "sk":
      return result(f, size === 8, "sock");
    default:
      return result(f, size === 4);
  }
}

// sk_lookup_is_valid_access
function skLookupAccess(off: number, size: number, write: boolean): CtxAccessResult {
  const f = fieldAt(BPF_SK_LOOKUP, off);
  if (off < 0 || off >= BPF_SK_LOOKUP.size || off % size !== 0 || write) return result(f, false);
  if (off === 38 || off === 39) return result(undefined, narrowOk(size, 2)); // remote_port's zero padding
  if (!f) return result(f, false);
  if (f.name === "sk") return result(f, size === 8, "sock_or_null");
  if (f.name === "remote_port") return result(f, size === 4 || narrowOk(size, 2));
  return result(f, narrowOk(size, 4));
}

// sk_reuseport_is_valid_access
function skReuseportAccess(off: number, size: number, write: boolean): CtxAccessResult {
  const f = fieldAt(SK_REUSEPORT_MD, off);
  if (off < 0 || off >= SK_REUSEPORT_MD.size || off % size !== 0 || write || !f) return result(f, false);
  const exact = off === f.offset;
  switch (f.name) {
    case "data":
      return result(f, exact && size === 8, "pkt");
    case "data_end":
      return result(f, exact && size === 8, "pkt_end");
    case "hash":
      return result(f, exact && size === 4);
    case "sk":
      return result(f, exact && size === 8, "sock");
    case "migrating_sk":
      return result(f, exact && size === 8, "sock_common_or_null");
    case "eth_protocol":
      return result(f, size >= 2 && narrowOk(size, 4));
    default:
      return result(f, narrowOk(size, 4));
  }
}

// sysctl_is_valid_access
function sysctlAccess(off: number, size: number, write: boolean): CtxAccessResult {
  const f = fieldAt(BPF_SYSCTL, off);
  if (off < 0 || off + size > BPF_SYSCTL.size || off % size !== 0 || !f) return result(f, false);
  if (f.name === "write") return result(f, !write && narrowOk(size, 4));
  return result(f, write ? size === 4 : narrowOk(size, 4));
}

// cg_sockopt_is_valid_access
function sockoptAccess(off: number, size: number, write: boolean, o: CtxAccessOptions): CtxAccessResult {
  const f = fieldAt(BPF_SOCKOPT, off);
  if (off < 0 || off >= BPF_SOCKOPT.size || off % size !== 0 || !f) return result(f, false);
  const get = o.expectedAttachType === "cgroup_getsockopt";
  const set = o.expectedAttachType === "cgroup_setsockopt";
  if (write) {
    if (off !== f.offset) return result(f, false);
    switch (f.name) {
      case "retval":
        return result(f, size === 4 && get);
      case "optname":
      case "level":
        return result(f, size === 4 && set);
      case "optlen":
        return result(f, size === 4);
      default:
        return result(f, false);
    }
  }
  switch (f.name) {
    case "sk":
      return result(f, size === 8, "sock");
    case "optval":
      return result(f, size === 8, "pkt");
    case "optval_end":
      return result(f, size === 8, "pkt_end");
    case "retval":
      return result(f, size === 4 && get);
    default:
      return result(f, size === 4);
  }
}

// cgroup_dev_is_valid_access
function cgroupDevAccess(off: number, size: number, write: boolean): CtxAccessResult {
  const f = fieldAt(BPF_CGROUP_DEV_CTX, off);
  if (write || off < 0 || off + size > BPF_CGROUP_DEV_CTX.size || off % size !== 0 || !f)
    return result(f, false);
  if (f.name === "access_type") return result(f, narrowOk(size, 4));
  return result(f, size === 4);
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
  "cgroup_sock_addr",
  "sock_ops",
  "sk_msg",
  "sk_lookup",
  "sk_reuseport",
  "cgroup_sysctl",
  "cgroup_sockopt",
  "cgroup_device",
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
    case "cgroup_sock_addr":
      return sockAddrAccess(off, size, write, opts);
    case "sock_ops":
      return sockOpsAccess(off, size, write);
    case "sk_msg":
      return skMsgAccess(off, size, write);
    case "sk_lookup":
      return skLookupAccess(off, size, write);
    case "sk_reuseport":
      return skReuseportAccess(off, size, write);
    case "cgroup_sysctl":
      return sysctlAccess(off, size, write);
    case "cgroup_sockopt":
      return sockoptAccess(off, size, write, opts);
    case "cgroup_device":
      return cgroupDevAccess(off, size, write);
    default:
      return undefined;
  }
}

/** One context field with the access widths the verifier allows at its first byte. */
export interface CtxFieldAccess {
  readonly field: CtxField;
  /** Load sizes (bytes) accepted at the field's offset. */
  readonly read: readonly number[];
  /** Store sizes accepted at the field's offset. */
  readonly write: readonly number[];
  /** What a load of the field yields when it is a pointer. */
  readonly pointer?: CtxPointer;
}

/**
 * A per-field summary of checkCtxAccess for a program type (and attach type): which fields are
 * readable or writable and at what widths, and which load as pointers. Narrow loads inside a field
 * (e.g. the second half of a u32) are not listed; ask checkCtxAccess for those. Undefined for
 * program types whose context is not modelled or has no fixed layout (tracepoint).
 */
export function describeContext(progType: string, opts: CtxAccessOptions = {}): CtxFieldAccess[] | undefined {
  const l = contextLayoutFor(progType);
  if (!l || progType === "tracepoint") return undefined;
  return l.fields.map((field) => {
    const read: number[] = [];
    const write: number[] = [];
    let pointer: CtxPointer | undefined;
    for (const size of [1, 2, 4, 8]) {
      const r = checkCtxAccess(progType, field.offset, size, false, opts);
      if (r?.ok) {
        read.push(size);
        if (r.pointer) pointer = r.pointer;
      }
      if (checkCtxAccess(progType, field.offset, size, true, opts)?.ok) write.push(size);
    }
    return { field, read, write, ...(pointer ? { pointer } : {}) };
  });
}
