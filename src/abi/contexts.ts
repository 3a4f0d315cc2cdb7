/**
 * Program contexts: the structs a program's R1 points to, as user space and BPF C see them
 * (uapi /usr/include/linux/bpf.h; x86_64 for pt_regs), checked against the 6.18 vmlinux BTF in
 * test/abi/contexts.test.ts. What the verifier lets a program do with them is in
 * context-access.ts; tracefs record layouts in tracepoint-format.ts.
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

/** `struct bpf_sock_addr` (72 bytes): cgroup_sock_addr context. */
export const BPF_SOCK_ADDR: CtxLayout = layout("bpf_sock_addr", 72, [
  ["user_family", 0, 4],
  ["user_ip4", 4, 4],
  ["user_ip6", 8, 16, 4],
  ["user_port", 24, 4],
  ["family", 28, 4],
  ["type", 32, 4],
  ["protocol", 36, 4],
  ["msg_src_ip4", 40, 4],
  ["msg_src_ip6", 44, 16, 4],
  ["sk", 64, 8],
]);

/**
 * `struct bpf_sock_ops` (224 bytes): sock_ops context. `args[4]`, `reply` and `replylong[4]` share
 * offset 4 (a union); listed here as `args`, with reply/replylong in SOCK_OPS_UNION_ALIASES.
 */
export const BPF_SOCK_OPS: CtxLayout = layout("bpf_sock_ops", 224, [
  ["op", 0, 4],
  ["args", 4, 16, 4],
  ["family", 20, 4],
  ["remote_ip4", 24, 4],
  ["local_ip4", 28, 4],
  ["remote_ip6", 32, 16, 4],
  ["local_ip6", 48, 16, 4],
  ["remote_port", 64, 4],
  ["local_port", 68, 4],
  ["is_fullsock", 72, 4],
  ["snd_cwnd", 76, 4],
  ["srtt_us", 80, 4],
  ["bpf_sock_ops_cb_flags", 84, 4],
  ["state", 88, 4],
  ["rtt_min", 92, 4],
  ["snd_ssthresh", 96, 4],
  ["rcv_nxt", 100, 4],
  ["snd_nxt", 104, 4],
  ["snd_una", 108, 4],
  ["mss_cache", 112, 4],
  ["ecn_flags", 116, 4],
  ["rate_delivered", 120, 4],
  ["rate_interval_us", 124, 4],
  ["packets_out", 128, 4],
  ["retrans_out", 132, 4],
  ["total_retrans", 136, 4],
  ["segs_in", 140, 4],
  ["data_segs_in", 144, 4],
  ["segs_out", 148, 4],
  ["data_segs_out", 152, 4],
  ["lost_out", 156, 4],
  ["sacked_out", 160, 4],
  ["sk_txhash", 164, 4],
  ["bytes_received", 168, 8],
  ["bytes_acked", 176, 8],
  ["sk", 184, 8],
  ["skb_data", 192, 8],
  ["skb_data_end", 200, 8],
  ["skb_len", 208, 4],
  ["skb_tcp_flags", 212, 4],
  ["skb_hwtstamp", 216, 8],
]);
export const SOCK_OPS_UNION_ALIASES: readonly CtxField[] = [
  { name: "reply", offset: 4, size: 4 },
  { name: "replylong", offset: 4, size: 16, count: 4 },
];

/** `struct sk_msg_md` (80 bytes): sk_msg context. */
export const SK_MSG_MD: CtxLayout = layout("sk_msg_md", 80, [
  ["data", 0, 8],
  ["data_end", 8, 8],
  ["family", 16, 4],
  ["remote_ip4", 20, 4],
  ["local_ip4", 24, 4],
  ["remote_ip6", 28, 16, 4],
  ["local_ip6", 44, 16, 4],
  ["remote_port", 60, 4],
  ["local_port", 64, 4],
  ["size", 68, 4],
  ["sk", 72, 8],
]);

/** `struct bpf_sk_lookup` (72 bytes): sk_lookup context (`sk` and `cookie` share offset 0). */
export const BPF_SK_LOOKUP: CtxLayout = layout("bpf_sk_lookup", 72, [
  ["sk", 0, 8],
  ["family", 8, 4],
  ["protocol", 12, 4],
  ["remote_ip4", 16, 4],
  ["remote_ip6", 20, 16, 4],
  // __be16 remote_port, then 2 bytes of zero padding readable for backward compatibility
  ["remote_port", 36, 2],
  ["local_ip4", 40, 4],
  ["local_ip6", 44, 16, 4],
  ["local_port", 60, 4],
  ["ingress_ifindex", 64, 4],
]);

/** `struct sk_reuseport_md` (56 bytes): sk_reuseport context. */
export const SK_REUSEPORT_MD: CtxLayout = layout("sk_reuseport_md", 56, [
  ["data", 0, 8],
  ["data_end", 8, 8],
  ["len", 16, 4],
  ["eth_protocol", 20, 4],
  ["ip_protocol", 24, 4],
  ["bind_inany", 28, 4],
  ["hash", 32, 4],
  ["sk", 40, 8],
  ["migrating_sk", 48, 8],
]);

/** `struct bpf_sysctl` (8 bytes): cgroup_sysctl context. */
export const BPF_SYSCTL: CtxLayout = layout("bpf_sysctl", 8, [
  ["write", 0, 4],
  ["file_pos", 4, 4],
]);

/** `struct bpf_sockopt` (40 bytes): cgroup_sockopt context; optval..optval_end is its "packet". */
export const BPF_SOCKOPT: CtxLayout = layout("bpf_sockopt", 40, [
  ["sk", 0, 8],
  ["optval", 8, 8],
  ["optval_end", 16, 8],
  ["level", 24, 4],
  ["optname", 28, 4],
  ["optlen", 32, 4],
  ["retval", 36, 4],
]);

/** `struct bpf_cgroup_dev_ctx` (12 bytes): cgroup_device context. */
export const BPF_CGROUP_DEV_CTX: CtxLayout = layout("bpf_cgroup_dev_ctx", 12, [
  ["access_type", 0, 4],
  ["major", 4, 4],
  ["minor", 8, 4],
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

/** The context struct a program type sees; undefined for the ones not modelled (see file comment). */
export function contextLayoutFor(progType: string): CtxLayout | undefined {
  switch (progType) {
    case "socket_filter":
    case "sched_cls":
    case "sched_act":
    case "cgroup_skb":
    case "lwt_in":
    case "lwt_out":
    case "lwt_xmit":
    case "lwt_seg6local":
    case "sk_skb":
    case "flow_dissector":
      return SK_BUFF;
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
      return TRACE_ENTRY; // the rest of the record depends on the tracepoint: parseTracepointFormat() (tracepoint-format.ts)
    case "cgroup_sock_addr":
      return BPF_SOCK_ADDR;
    case "sock_ops":
      return BPF_SOCK_OPS;
    case "sk_msg":
      return SK_MSG_MD;
    case "sk_lookup":
      return BPF_SK_LOOKUP;
    case "sk_reuseport":
      return SK_REUSEPORT_MD;
    case "cgroup_sysctl":
      return BPF_SYSCTL;
    case "cgroup_sockopt":
      return BPF_SOCKOPT;
    case "cgroup_device":
      return BPF_CGROUP_DEV_CTX;
    default:
      return undefined;
  }
}
