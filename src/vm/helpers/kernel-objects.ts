/**
 * Helpers that look into kernel objects (a task's saved registers, a socket's protocol) read them
 * from the kernel memory image the test provides (Runtime.kernelMemory), laid out by the target
 * BTF, as the kernel reads its own structs. Bytes the image lacks read as 0, as the loads of
 * tracing programs do (BPF_PROBE_MEM).
 *
 * - bpf_task_pt_regs(task): the registers saved at the top of the task's kernel stack,
 *   task->stack + THREAD_SIZE - sizeof(struct pt_regs), for x86-64 with 4 KiB pages, no KASAN
 *   stack and no CONFIG_X86_FRED (which would leave 16 more bytes at the top), as this kernel.
 * - bpf_skc_to_tcp_sock(sk): sk when it is a full socket (skc_state neither TCP_TIME_WAIT nor
 *   TCP_NEW_SYN_RECV) of protocol IPPROTO_TCP, else NULL.
 */
import { PT_REGS } from "../../abi/contexts.js";
import type { Btf } from "../../elf/btf/btf.js";
import type { VmHelperCall, VmHelperFn } from "../env.js";
import type { Runtime } from "./runtime.js";
import { readUnsafe } from "./util.js";

/** Byte offsets of kernel struct fields (a dotted path through nested and anonymous members). */
export interface KernelLayout {
  offsetOf(struct: string, path: string): number | undefined;
}

/** A member by name, looking through anonymous structs and unions: its byte offset and type. */
function member(btf: Btf, typeId: number, name: string): { offset: number; type: number } | undefined {
  const t = btf.typeById(btf.resolve(typeId));
  if (t.kind !== "STRUCT" && t.kind !== "UNION") return undefined;
  for (const m of t.members) {
    // a bitfield has no byte offset of its own: not for these helpers
    if (m.name === name)
      return m.bitfieldSize || m.bitOffset % 8 ? undefined : { offset: m.bitOffset / 8, type: m.type };
    if (m.name === "") {
      const inner = member(btf, m.type, name);
      if (inner !== undefined) return { offset: m.bitOffset / 8 + inner.offset, type: inner.type };
    }
  }
  return undefined;
}

/** A KernelLayout over a BTF, read only when first asked. */
export function btfLayout(getBtf: () => Btf): KernelLayout {
  const cache = new Map<string, number | undefined>();
  const lookup = (struct: string, path: string): number | undefined => {
    const btf = getBtf();
    const s = btf.findByName(struct, "STRUCT");
    if (s === undefined) return undefined;
    let type = s.id;
    let off = 0;
    for (const part of path.split(".")) {
      const m = member(btf, type, part);
      if (m === undefined) return undefined;
      off += m.offset;
      type = m.type;
    }
    return off;
  };
  return {
    offsetOf(struct, path) {
      const key = `${struct}.${path}`;
      if (!cache.has(key)) cache.set(key, lookup(struct, path));
      return cache.get(key);
    },
  };
}

const THREAD_SIZE = 16384n;
const IPPROTO_TCP = 6;
const TCP_TIME_WAIT = 6;
const TCP_NEW_SYN_RECV = 12;

/** An unsigned little-endian integer of `size` bytes at an address of kernel memory (0 where unknown). */
function readKernel(rt: Runtime, address: bigint, size: number): bigint {
  const b = readUnsafe(rt, rt.kernelMemory, address, size);
  if (b === undefined) return 0n;
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

function offset(rt: Runtime, call: VmHelperCall, struct: string, path: string, helper: string): bigint {
  const off = rt.kernelLayout?.offsetOf(struct, path);
  if (off === undefined) throw call.fault(`${helper}: no ${struct}.${path} in the target BTF`, "unsupported");
  return BigInt(off);
}

export function kernelObjectHelpers(rt: Runtime): Record<string, VmHelperFn> {
  return {
    task_pt_regs: (call) => {
      const task = call.arg(1);
      const stack = readKernel(rt, task + offset(rt, call, "task_struct", "stack", "bpf_task_pt_regs"), 8);
      return BigInt.asUintN(64, stack + THREAD_SIZE - BigInt(PT_REGS.size));
    },
    skc_to_tcp_sock: (call) => {
      const sk = call.arg(1);
      if (sk === 0n) return 0;
      const state = Number(
        readKernel(rt, sk + offset(rt, call, "sock", "__sk_common.skc_state", "bpf_skc_to_tcp_sock"), 1),
      );
      const protocol = Number(
        readKernel(rt, sk + offset(rt, call, "sock", "sk_protocol", "bpf_skc_to_tcp_sock"), 2),
      );
      const full = state !== TCP_TIME_WAIT && state !== TCP_NEW_SYN_RECV;
      return full && protocol === IPPROTO_TCP ? sk : 0;
    },
  };
}
