/**
 * Per-program-type verifier rules that are plain facts rather than algorithm: the allowed return
 * values (6.18 kernel/bpf/verifier.c check_return_code), direct packet access
 * (may_access_direct_pkt_data) and legacy packet loads (may_access_skb). Program and attach types
 * are named as bpftool / libbpf print them. Checked against the running kernel in
 * test/abi/program-rules.test.ts.
 */

/** What R0 may hold at the main program's exit. */
export type ReturnRule =
  | { readonly kind: "any" }
  /**
   * Inclusive range the (precise) scalar in R0 must lie in; `subreg`: checked on the low 32 bits
   * (lsm hooks), `note`: a second line the kernel prints after the range message.
   */
  | {
      readonly kind: "range";
      readonly min: number;
      readonly max: number;
      readonly subreg?: boolean;
      readonly note?: string;
    }
  /** R0 is not looked at, not even read (lsm programs on void hooks). */
  | { readonly kind: "unchecked" }
  /** LSM hooks: the range comes from the hook's BTF return type (errno values, bool ...). */
  | { readonly kind: "hook" }
  /** struct_ops: 0 for non-void operators, anything for void ones. */
  | { readonly kind: "struct_ops" }
  /** The attach type is not one this program type supports (the load fails with ENOTSUPP). */
  | { readonly kind: "unsupported" };

const ANY: ReturnRule = { kind: "any" };
const range = (min: number, max: number): ReturnRule => ({ kind: "range", min, max });

const SOCK_ADDR_ONE_ONLY = new Set([
  "cgroup_udp4_recvmsg",
  "cgroup_udp6_recvmsg",
  "cgroup_unix_recvmsg",
  "cgroup_inet4_getpeername",
  "cgroup_inet6_getpeername",
  "cgroup_unix_getpeername",
  "cgroup_inet4_getsockname",
  "cgroup_inet6_getsockname",
  "cgroup_unix_getsockname",
]);

export interface ReturnRuleOptions {
  /** libbpf name of the expected attach type; for cgroup_sock_addr, cgroup_skb, tracing, kprobe, lsm. */
  readonly expectedAttachType?: string;
  /** raw_tracepoint loaded with an attach BTF id (raw tracepoints of modules' BTF): must return 0. */
  readonly attachBtf?: boolean;
  /** lsm_cgroup on a hook returning void. */
  readonly voidHook?: boolean;
  /** lsm (BPF_LSM_MAC): the hook's return (void, bool_lsm_hooks, or int), when known. */
  readonly lsmHookReturn?: "void" | "bool" | "int";
}

/** Allowed return values of a program type's main function (subprograms may return any scalar). */
export function returnRule(progType: string, opts: ReturnRuleOptions = {}): ReturnRule {
  const at = opts.expectedAttachType;
  switch (progType) {
    case "cgroup_sock_addr":
      if (at && SOCK_ADDR_ONE_ONLY.has(at)) return range(1, 1);
      if (at === "cgroup_inet4_bind" || at === "cgroup_inet6_bind") return range(0, 3);
      return range(0, 1);
    case "cgroup_skb":
      // egress: bit 0 pass/drop, bit 1 congestion notification (2 and 3 need the egress attach)
      return at === "cgroup_inet_egress" ? range(0, 3) : range(0, 1);
    case "cgroup_sock":
    case "sock_ops":
    case "cgroup_device":
    case "cgroup_sysctl":
    case "cgroup_sockopt":
      return range(0, 1);
    case "raw_tracepoint":
      return opts.attachBtf ? range(0, 0) : ANY;
    case "tracing":
      switch (at) {
        case "trace_fentry":
        case "trace_fexit":
          return range(0, 0);
        case "trace_raw_tp":
        case "modify_return":
          return ANY;
        case "trace_iter":
          return range(0, 1);
        default:
          return { kind: "unsupported" };
      }
    case "kprobe":
      return at === "trace_kprobe_session" || at === "trace_uprobe_session" ? range(0, 1) : ANY;
    case "sk_lookup":
      return range(0, 1); // SK_DROP, SK_PASS
    case "lsm":
      // check_return_code with bpf_lsm_get_retval_range (kernel/bpf/bpf_lsm.c)
      if (at === "lsm_cgroup") {
        if (!opts.voidHook) return range(0, 1);
        const note = "Note, BPF_LSM_CGROUP that attach to void LSM hooks can't modify return value!";
        return { kind: "range", min: 1, max: 1, note };
      }
      switch (opts.lsmHookReturn) {
        case "void":
          return { kind: "unchecked" };
        case "bool":
          return { kind: "range", min: 0, max: 1, subreg: true };
        case "int":
          return { kind: "range", min: -4095, max: 0, subreg: true }; // [-MAX_ERRNO, 0]
        default:
          return { kind: "hook" };
      }
    case "netfilter":
      return range(0, 1); // NF_DROP, NF_ACCEPT
    case "struct_ops":
      return { kind: "struct_ops" };
    default:
      // socket_filter, sched_cls/act, xdp, tracepoint, perf_event, lwt_*, sk_skb, sk_msg,
      // flow_dissector, sk_reuseport, raw_tracepoint_writable, lirc_mode2, syscall, ext
      return ANY;
  }
}

/** The verifier's message when a known constant R0 is out of range (verbose_invalid_scalar). */
export function returnRangeError(value: number, min: number, max: number): string {
  return `At program exit the register R0 has smin=${value} smax=${value} should have been in [${min}, ${max}]`;
}

/** Direct packet access through data/data_end pointers. */
export type PacketAccess = "none" | "read" | "readwrite";

const PACKET_READ_ONLY = new Set([
  "lwt_in",
  "lwt_out",
  "lwt_seg6local",
  "sk_reuseport",
  "flow_dissector",
  "cgroup_skb",
]);
const PACKET_READ_WRITE = new Set([
  "sched_cls",
  "sched_act",
  "xdp",
  "lwt_xmit",
  "sk_skb",
  "sk_msg",
  "cgroup_sockopt",
]);

/**
 * Whether a program type may load/store through packet pointers (may_access_direct_pkt_data).
 * cgroup_sockopt's "packet" is the sockopt buffer (optval .. optval_end).
 */
export function packetAccess(progType: string): PacketAccess {
  if (PACKET_READ_WRITE.has(progType)) return "readwrite";
  if (PACKET_READ_ONLY.has(progType)) return "read";
  return "none";
}

/** Legacy BPF_LD_[ABS|IND] packet loads (may_access_skb); elsewhere "BPF_LD_[ABS|IND] instructions not allowed for this program type". */
export function allowsLegacyPacketLoads(progType: string): boolean {
  return progType === "socket_filter" || progType === "sched_cls" || progType === "sched_act";
}

/** The licenses the kernel calls GPL-compatible (license_is_gpl_compatible), for GPL-only helpers and kfuncs. */
const GPL_COMPATIBLE: ReadonlySet<string> = new Set([
  "GPL",
  "GPL v2",
  "GPL and additional rights",
  "Dual BSD/GPL",
  "Dual MIT/GPL",
  "Dual MPL/GPL",
]);

export const isGplCompatible = (license: string): boolean => GPL_COMPATIBLE.has(license);
