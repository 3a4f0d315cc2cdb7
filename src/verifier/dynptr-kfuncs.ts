/**
 * Packet dynptrs, as the 6.18 verifier checks them: the kfuncs bpf_dynptr_from_skb (tc, socket
 * filter, cgroup_skb, lwt, sk_skb, netfilter; KF_TRUSTED_ARGS) and bpf_dynptr_from_xdp (xdp) build
 * a dynptr of type skb / xdp in an uninitialised stack dynptr (process_dynptr_func with
 * MEM_UNINIT | DYNPTR_TYPE_SKB/XDP), and bpf_dynptr_slice / bpf_dynptr_slice_rdwr (KF_RET_NULL)
 * give a maybe-NULL pointer of `buffer__szk` bytes (PTR_TO_MEM | DYNPTR_TYPE_*, read-only for
 * bpf_dynptr_slice; the _rdwr one only where the program may write packet data). The optional
 * buffer must be `buffer__szk` bytes of memory (check_kfunc_mem_size_reg). Slices of packet
 * dynptrs are packet pointers for clear_all_pkt_pointers: a packet-changing helper (and
 * bpf_dynptr_write to an skb dynptr) invalidates them (verify.ts). Slices of local and ring
 * buffer dynptrs carry no reference (6.18 sets none on kfunc slices): only destroying their
 * dynptr invalidates them; and _rdwr asks for packet write access whatever the dynptr's type. Also: bpf_dynptr_from_skb_meta
 * (tc; the skb metadata), and the generic bpf_dynptr_size / is_null / is_rdonly / adjust (read an
 * initialised dynptr) and bpf_dynptr_clone (a copy of the same type sharing a ring buffer
 * dynptr's reference).
 */
import { packetAccess } from "../abi/program-rules.js";
import { type DynptrArgEnv, dynptrArg, dynptrSlotReg } from "./dynptr.js";
import { notModelled, VerifyAbort } from "./errors.js";
import { isConst } from "./scalar.js";
import { notInit, pointer, type Reg, regTypeStr, unknownScalar, type VState } from "./state.js";

const FROM_SKB = "bpf_dynptr_from_skb";
const FROM_SKB_META = "bpf_dynptr_from_skb_meta";
const CLONE = "bpf_dynptr_clone";
/** Kfuncs that only read an initialised dynptr, with scalar arguments after it, returning a scalar. */
const QUERIES: Readonly<Record<string, number>> = {
  bpf_dynptr_size: 0,
  bpf_dynptr_is_null: 0,
  bpf_dynptr_is_rdonly: 0,
  bpf_dynptr_adjust: 2,
};
const FROM_XDP = "bpf_dynptr_from_xdp";
const SLICE = "bpf_dynptr_slice";
const SLICE_RDWR = "bpf_dynptr_slice_rdwr";

/** Program types with the kfunc id set of bpf_dynptr_from_skb (filter.c's bpf_kfunc_set_skb). */
const SKB_PROG_TYPES: ReadonlySet<string> = new Set([
  "sched_cls",
  "sched_act",
  "sk_skb",
  "socket_filter",
  "cgroup_skb",
  "lwt_out",
  "lwt_in",
  "lwt_xmit",
  "lwt_seg6local",
  "netfilter",
  "tracing",
]);

/** The packet dynptr kfunc a call names, if it is one. */
export function dynptrKfunc(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const known = [FROM_SKB, FROM_SKB_META, FROM_XDP, SLICE, SLICE_RDWR, CLONE].includes(name);
  return known || QUERIES[name] !== undefined ? name : undefined;
}

/** An initialised dynptr argument (KF_ARG_PTR_TO_DYNPTR): its first slot's register. */
function initDynptr(env: DynptrKfuncEnv, st: VState, t: number, regno: number): Reg | undefined {
  const d = st.frames[st.frames.length - 1]!.regs[regno]!;
  if (d.type !== "stack" && d.type !== "dynptr_ptr")
    throw new VerifyAbort(t, `arg#${regno - 1} expected pointer to stack or const struct bpf_dynptr`);
  dynptrArg(env, st, t, regno, d.type === "dynptr_ptr" ? ["MEM_RDONLY"] : []);
  return dynptrSlotReg(st, d);
}

export interface DynptrKfuncEnv extends DynptrArgEnv {
  readonly progType: string;
  /** check_kfunc_mem_size_reg: `size` bytes at register regno, checked as read and as written. */
  checkBuffer(regno: number, size: number): void;
}

const isNull = (r: Reg): boolean => r.type === "scalar" && isConst(r) && r.varOff.value === 0n;

/** One call at insn t of a packet dynptr kfunc `name`; leaves R0 and clobbers R1-R5. */
export function dynptrKfuncCall(env: DynptrKfuncEnv, st: VState, t: number, name: string): void {
  const regs = st.frames[st.frames.length - 1]!.regs;
  const queryArgs = QUERIES[name];
  if (queryArgs !== undefined || name === CLONE) {
    const parent = initDynptr(env, st, t, 1);
    if (name === CLONE) {
      const c = regs[2]!;
      if (c.type !== "stack") {
        // MEM_RDONLY | MEM_UNINIT: the kernel reports a verifier bug here
        if (c.type === "dynptr_ptr") throw notModelled(t, `a const dynptr as the new dynptr of ${name}`);
        throw new VerifyAbort(t, "arg#1 expected pointer to stack or const struct bpf_dynptr");
      }
      const kind = parent?.dynptr?.kind;
      if (!parent || !kind) throw notModelled(t, `${name} of this dynptr`);
      dynptrArg(env, st, t, 2, ["MEM_UNINIT", `DYNPTR_TYPE_${kind.toUpperCase()}`], parent.refObjId);
    } else {
      for (let r = 2; r < 2 + queryArgs!; r++)
        if (regs[r]!.type !== "scalar") throw new VerifyAbort(t, `R${r} is not a scalar`);
    }
    for (let r = 0; r <= 5; r++) regs[r] = notInit();
    regs[0] = unknownScalar();
    return;
  }
  if (name === FROM_SKB || name === FROM_XDP || name === FROM_SKB_META) {
    const skb = name !== FROM_XDP;

    const allowed =
      name === FROM_SKB
        ? SKB_PROG_TYPES.has(env.progType)
        : name === FROM_XDP
          ? env.progType === "xdp"
          : env.progType === "sched_cls" || env.progType === "sched_act";
    if (!allowed) throw new VerifyAbort(t, `calling kernel function ${name} is not allowed`);
    if (env.progType === "tracing") skbProjectionArg(t, regs[1]!, name);
    else ctxArg(t, regs[1]!, skb);
    if (regs[2]!.type !== "scalar") throw new VerifyAbort(t, "R2 is not a scalar");
    const d = regs[3]!;
    if (skb && (isNull(d) || d.maybeNull))
      throw new VerifyAbort(t, "Possibly NULL pointer passed to trusted arg2");
    if (d.type !== "stack") {
      // MEM_RDONLY | MEM_UNINIT: the kernel reports a verifier bug here
      if (d.type === "dynptr_ptr") throw notModelled(t, `a const dynptr as the new dynptr of ${name}`);
      throw new VerifyAbort(t, "arg#2 expected pointer to stack or const struct bpf_dynptr");
    }
    const type =
      name === FROM_SKB ? "DYNPTR_TYPE_SKB" : name === FROM_XDP ? "DYNPTR_TYPE_XDP" : "DYNPTR_TYPE_SKB_META";
    dynptrArg(env, st, t, 3, ["MEM_UNINIT", type]);
    for (let r = 0; r <= 5; r++) regs[r] = notInit();
    regs[0] = unknownScalar();
    return;
  }
  // bpf_dynptr_slice(_rdwr)(const struct bpf_dynptr *p, u32 offset, void *buffer__opt, u32 buffer__szk)
  const dyn = initDynptr(env, st, t, 1);
  const kind = dyn?.dynptr?.kind;
  if (!dyn || !kind) throw notModelled(t, `${name} of this dynptr`);
  if (regs[2]!.type !== "scalar") throw new VerifyAbort(t, "R2 is not a scalar");
  const buf = regs[3]!;
  const sz = regs[4]!;
  if (sz.type !== "scalar") throw new VerifyAbort(t, "R4 is not a scalar");
  if (!isConst(sz)) throw notModelled(t, `${name} with a buffer size that is not a known constant`);
  const size = Number(sz.varOff.value);
  if (!isNull(buf)) {
    if (!["stack", "map_value", "mem", "pkt", "pkt_meta", "map_key"].includes(buf.type) || buf.maybeNull)
      throw notModelled(t, `${name} buffer ${regTypeStr(buf)}`);
    try {
      env.checkBuffer(3, size);
    } catch (e) {
      if (!(e instanceof VerifyAbort) || !e.kernelWording) throw e;
      throw new VerifyAbort(
        e.insn,
        `${e.message}\narg#2 arg#3 memory, len pair leads to invalid memory access`,
      );
    }
  }
  const rdwr = name === SLICE_RDWR;
  for (let r = 0; r <= 5; r++) regs[r] = notInit();
  if (rdwr && packetAccess(env.progType) !== "readwrite")
    throw new VerifyAbort(t, "the prog does not allow writes to packet data");
  regs[0] = pointer("mem", {
    memSize: size,
    rdonly: !rdwr,
    maybeNull: true,
    id: env.newId(),
    dynptrId: dyn.id,
    dynptr: { kind, first: false },
  });
}

/** KF_ARG_PTR_TO_CTX: the program's context, unmoved (NULL refused first under KF_TRUSTED_ARGS). */
function ctxArg(t: number, r: Reg, trusted: boolean): void {
  if (trusted && (isNull(r) || r.maybeNull))
    throw new VerifyAbort(t, "Possibly NULL pointer passed to trusted arg0");
  if (r.type === "ctx") {
    if (!isConst(r)) throw notModelled(t, "a moved context pointer passed to a kfunc");
    if (r.off < 0) throw new VerifyAbort(t, `negative offset ctx ptr R1 off=${r.off} disallowed`);
    if (r.off !== 0) throw new VerifyAbort(t, `dereference of modified ctx ptr R1 off=${r.off} disallowed`);
    return;
  }
  throw new VerifyAbort(t, `arg#0 expected pointer to ctx, but got ${regTypeStr(r)}`);
}

/** reg_is_dynptr_slice_pkt: a slice of an skb or xdp dynptr (clear_all_pkt_pointers drops it). */
export const isPacketSlice = (r: Reg): boolean =>
  r.type === "mem" && (r.dynptr?.kind === "skb" || r.dynptr?.kind === "xdp" || r.dynptr?.kind === "skb_meta");

/**
 * A tracing program has no __sk_buff context: bpf_dynptr_from_skb's argument is then a
 * KF_ARG_PTR_TO_BTF_ID (KF_TRUSTED_ARGS), which takes a trusted pointer to the kernel's sk_buff,
 * the type __sk_buff projects (process_kf_arg_ptr_to_btf_id). Other registers are not modelled.
 */
function skbProjectionArg(t: number, r: Reg, name: string): void {
  if (isNull(r) || r.maybeNull) throw new VerifyAbort(t, "Possibly NULL pointer passed to trusted arg0");
  const trusted = r.type === "btf_id" && (r.refObjId !== 0 || r.btfFlag === "trusted");
  if (!trusted || r.btfName !== "sk_buff" || r.off !== 0 || !isConst(r) || r.varOff.value !== 0n)
    throw notModelled(t, `${name} in a tracing program given ${regTypeStr(r)}${r.btfName ?? ""}`);
}
