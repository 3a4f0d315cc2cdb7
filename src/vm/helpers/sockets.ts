/**
 * Socket lookups: the simulator has no sockets, so bpf_sk_lookup_tcp/udp and bpf_skc_lookup_tcp
 * find none (NULL), as the kernel does for a tuple no local socket matches; bpf_sk_release has
 * nothing to release; sk_lookup's bpf_sk_assign can only clear the selection (NULL). Tests that need a socket found are out of the simulator's reach.
 */
import type { VmHelperFn } from "../env.js";
import { EINVAL } from "../maps/errno.js";
import type { Runtime } from "./runtime.js";

const noSocket: VmHelperFn = (call) => {
  // the tuple must still be readable memory of the size given, as the verifier requires
  call.memory.slice(call.arg(2), Number(call.arg(3) & 0xffffffffn));
  return 0;
};

/** bpf_sk_assign flags of sk_lookup programs: BPF_SK_LOOKUP_F_REPLACE | BPF_SK_LOOKUP_F_NO_REUSEPORT. */
const SK_LOOKUP_FLAGS = 3n;

/** BPF_SOCK_OPS_ALL_CB_FLAGS of 6.18 (from the kernel BTF's enum). */
const SOCK_OPS_ALL_CB_FLAGS = 0x7fn;
/** Offsets in struct bpf_sock_ops: is_fullsock, bpf_sock_ops_cb_flags. */
const SOCK_OPS_IS_FULLSOCK = 72;
const SOCK_OPS_CB_FLAGS = 84;

export function socketHelpers(rt: Runtime): Record<string, VmHelperFn> {
  return {
    // the socket's callback flags live in the context here (bpf_sock_ops_cb_flags reads them
    // back): set to the supported bits, the unsupported ones returned; -EINVAL without a full socket
    sock_ops_cb_flags_set: (call) => {
      const f = call.memory.find(call.arg(1));
      if (rt.progType !== "sock_ops" || f === undefined || f.region.kind !== "ctx" || f.offset !== 0)
        throw call.fault("bpf_sock_ops_cb_flags_set: argument 1 is not the sock_ops context");
      const v = f.region.view;
      if (v.getUint32(SOCK_OPS_IS_FULLSOCK, true) === 0) return -EINVAL;
      const flags = call.arg(2) & 0xffffffffn;
      v.setUint32(SOCK_OPS_CB_FLAGS, Number(flags & SOCK_OPS_ALL_CB_FLAGS), true);
      // int arithmetic in the kernel: the result is sign-extended from 32 bits
      return BigInt.asIntN(32, flags & ~SOCK_OPS_ALL_CB_FLAGS);
    },
    // sk_lookup's bpf_sk_assign: with no socket to give (none exist offline) it can only clear
    // the selection, which succeeds once the flags are valid
    sk_assign: (call) => {
      if (rt.progType !== "sk_lookup" || call.arg(2) !== 0n)
        throw call.fault("bpf_sk_assign: no sockets exist in the simulator", "unsupported");
      return call.arg(3) & ~SK_LOOKUP_FLAGS ? -EINVAL : 0;
    },
    sk_lookup_tcp: noSocket,
    sk_lookup_udp: noSocket,
    skc_lookup_tcp: noSocket,
    sk_release: () => 0,
  };
}
