/**
 * Socket lookups: the simulator has no sockets, so bpf_sk_lookup_tcp/udp and bpf_skc_lookup_tcp
 * find none (NULL), as the kernel does for a tuple no local socket matches; bpf_sk_release has
 * nothing to release. Tests that need a socket found are out of the simulator's reach.
 */
import type { VmHelperFn } from "../env.js";
import type { Runtime } from "./runtime.js";

const noSocket: VmHelperFn = (call) => {
  // the tuple must still be readable memory of the size given, as the verifier requires
  call.memory.slice(call.arg(2), Number(call.arg(3) & 0xffffffffn));
  return 0;
};

export function socketHelpers(_rt: Runtime): Record<string, VmHelperFn> {
  return {
    sk_lookup_tcp: noSocket,
    sk_lookup_udp: noSocket,
    skc_lookup_tcp: noSocket,
    sk_release: () => 0,
  };
}
