import { describe, expect, it } from "vitest";
import { checkSockAccess, checkTcpSockAccess } from "../../src/abi/context-access.js";
import { type CorpusGolden, readCorpus, verifyCorpusFixture } from "../fixtures/verifier-corpus/golden.js";

/**
 * Sockets with reference tracking, bpf_spin_lock and bpf_timer: each kernel wording the model
 * produces, checked on the corpus fixture that makes the kernel print it (the expected message,
 * its instruction and the whole error block come from the kernel 6.18 golden, never from here).
 */
const goldens = new Map<string, CorpusGolden>(readCorpus().map((g) => [g.name, g]));

function ours(name: string) {
  const g = goldens.get(name);
  if (!g) throw new Error(`no golden for ${name}`);
  return { golden: g.programs[0]!, result: verifyCorpusFixture(g) };
}

/** Fixture -> the wording it exercises (documentation for the reader; the check is the golden). */
const REJECTS: Readonly<Record<string, string>> = {
  tc_sk_lookup_no_null_check: "R0 invalid mem access 'sock_or_null'",
  tc_sk_lookup_no_release:
    "Unreleased reference ... BPF_EXIT instruction in main prog would lead to reference leak",
  ref_xdp_sock_leak_on_branch: "reference leak on one path only (XDP)",
  ref_tc_tail_call_holding_sock: "tail_call would lead to reference leak",
  ref_tc_release_unchecked:
    "R1 type=sock_or_null expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_",
  ref_tc_sk_double_release: "R1 type=scalar expected=... (released pointer is a scalar)",
  ref_tc_sock_use_after_release: "R6 invalid mem access 'scalar'",
  ref_cgroup_skb_release_skb_sk: "R1 must be referenced when passed to release function",
  ref_cgroup_skb_tcp_sock_write: "R0 cannot write into tcp_sock",
  ref_cgroup_skb_sock_common_protocol: "R1 invalid sock_common access off=12 size=4",
  tc_spin_lock_not_released:
    "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region",
  ref_tc_spin_lock_helper_inside: "function calls are not allowed while holding a lock",
  ref_tc_global_func_under_lock:
    "global function calls are not allowed while holding a lock,\\nuse static function instead",
  ref_tc_spin_lock_reset_field: "bpf_spin_lock cannot be accessed directly by load/store",
  ref_tc_spin_unlock_twice: "bpf_spin_unlock without taking a lock",
  ref_tc_spin_lock_plain_u32: "map '...' has no valid bpf_spin_lock",
  ref_tc_spin_lock_wrong_member: "off 0 doesn't point to 'struct bpf_spin_lock' that is at 8",
  ref_kprobe_spin_lock_map: "tracing progs cannot use bpf_spin_lock yet",
  ref_tc_timer_callback_returns_one:
    "At async callback return the register R0 has smin=1 smax=1 should have been in [0, 0]",
  ref_tc_timer_init_other_map: "timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0",
  ref_tc_timer_start_wrong_field: "off 16 doesn't point to 'struct bpf_timer' that is at 0",
  ref_tc_timer_no_null_check: "R1 type=map_value_or_null expected=map_value",
  ref_tc_timer_callback_not_static: "callback function not static",
  ref_tc_sockmap_lookup_leak: "Unreleased reference (sockmap lookup) ... would lead to reference leak",
  ref_xdp_xsk_write_queue: "R0 cannot write into xdp_sock",
  ref_tc_timer_map_without_timer: "map 'flows' has no valid bpf_timer",
  ref_cgroup_skb_tcp_sock_narrow_read: "R6 invalid tcp_sock access off=88 size=4",
  ref_kprobe_timer_map: "tracing progs cannot use bpf_timer yet",
  ref_socket_filter_spin_lock: "socket filter progs cannot use bpf_spin_lock yet",
  ref_tc_timer_cb_ringbuf_leak: "reference leaked by a timer callback (its own program)",
  ref_sk_lookup_assign_leak: "Unreleased reference (sockmap lookup in sk_lookup) ... reference leak",
  ref_tc_global_func_ringbuf_leak: "reference leaked by a global function (verified on its own)",
  ref_tc_spin_unlock_other_entry: "bpf_spin_unlock of different lock",
  ref_tc_ld_abs_holding_sock: "BPF_LD_[ABS|IND] would lead to reference leak",
  ref_tc_global_func_locked_value:
    "bpf_spin_lock cannot be accessed ...\nCaller passes invalid args into func#1 ('drain')",
  ref_cgroup_skb_sock_write_mark: "R0 cannot write into sock",
};

const ACCEPTS: readonly string[] = [
  "tc_sk_lookup_release",
  "tc_spin_lock_stats",
  "ref_tc_udp_sock_state",
  "ref_xdp_syn_no_listener",
  "ref_cgroup_skb_tcp_cwnd",
  "ref_tc_listener_backlog",
  "ref_tc_sk_assign_tproxy",
  "ref_tc_spin_lock_rate",
  "ref_tc_spin_lock_static_helper",
  "ref_tc_timer_flow_expiry",
  "ref_tc_timer_cancel_on_fin",
  "ref_tc_lookup_tcp_rtt",
  "ref_xdp_afxdp_redirect",
  "ref_tc_sockmap_port_check",
  "ref_tc_spin_lock_global_var",
  "ref_cgroup_skb_listener_port",
  "ref_xdp_udp_lookup",
  "ref_tc_sk_lookup_v4_v6",
  "ref_tc_spin_lock_two_buckets",
  "ref_tc_skb_sk_state",
  "ref_tc_timer_callback_rearm",
];

describe("reference tracking, spin locks and timers: the kernel's wording", () => {
  for (const [name, wording] of Object.entries(REJECTS)) {
    it(`${name}: ${wording}`, () => {
      const { golden, result } = ours(name);
      expect(golden.verdict).toBe("reject");
      expect(result.verdict).toBe("reject");
      expect(result.error?.modelled).toBe(true);
      // the kernel's error block (all lines it printed for the error) is exactly ours
      expect(result.error?.message).toBe(golden.error!.block);
      if (golden.error!.insn != null) expect(result.error?.insn).toBe(golden.error!.insn);
    });
  }
  for (const name of ACCEPTS) {
    it(`${name}: accepted like the kernel`, () => {
      const { golden, result } = ours(name);
      expect(golden.verdict).toBe("accept");
      expect(result.verdict).toBe("accept");
      expect(result.error).toBeUndefined();
    });
  }
});

describe("socket field rules (bpf_sock / bpf_tcp_sock is_valid_access)", () => {
  it("a sock_common has no full-socket fields: the golden's refused offset is refused, family is not", () => {
    // ref_cgroup_skb_sock_common_protocol: the kernel refused off=12 size=4 on a sock_common
    expect(checkSockAccess("sock_common", 12, 4).ok).toBe(false);
    expect(checkSockAccess("sock", 12, 4).ok).toBe(true);
    expect(checkSockAccess("sock_common", 4, 4).ok).toBe(true);
  });
  it("bpf_tcp_sock: u64 counters need 8-byte loads, others 4 bytes, nothing past the struct", () => {
    // offsets of struct bpf_tcp_sock in linux/bpf.h: bytes_received 80, bytes_acked 88, size 112
    expect(checkTcpSockAccess("tcp_sock", 0, 4)).toBe(true);
    expect(checkTcpSockAccess("tcp_sock", 0, 2)).toBe(false);
    expect(checkTcpSockAccess("tcp_sock", 80, 8)).toBe(true);
    expect(checkTcpSockAccess("tcp_sock", 80, 4)).toBe(false);
    expect(checkTcpSockAccess("tcp_sock", 108, 4)).toBe(true);
    expect(checkTcpSockAccess("tcp_sock", 112, 4)).toBe(false);
  });
});
