/**
 * Where the verifier meets the kernel BTF: CO-RE relocation of the program before verification
 * (as the loader does), the BTF-typed context and PTR_TO_BTF_ID accesses for memory.ts, helper
 * arguments and results typed ARG_PTR_TO_BTF_ID / RET_PTR_TO_BTF_ID, and kfunc calls. The kernel
 * BTF is loaded only when a program needs it.
 */

import type { HelperArg, HelperType } from "../abi/helpers.js";
import { isGplCompatible } from "../abi/program-rules.js";
import type { Btf } from "../elf/btf/btf.js";
import { relocate } from "../elf/core/relocate.js";
import type { ObjectSpec, ProgramSpec } from "../elf/object/types.js";
import type { Instruction } from "../isa/instruction.js";
import { btfPtrAccess, structIdsMatch } from "./btf-access.js";
import { type BtfCtx, btfCtxFor, btfCtxLoad } from "./btf-ctx.js";
import { notModelled, VerifyAbort } from "./errors.js";
import { kernelBtf } from "./kernel-btf.js";
import { kfuncCall } from "./kfunc.js";
import type { BtfMemHooks } from "./memory.js";
import { isConst } from "./scalar.js";
import { pointer, type Reg, regTypeStr, type VState } from "./state.js";

export interface BtfOptions {
  /** Kernel BTF: a path or a parsed Btf (default /sys/kernel/btf/vmlinux, else the shipped 6.18 copy). */
  readonly btf?: string | Btf;
}

/** CO-RE results per object and kernel BTF: relocating once serves every program of the object. */
const relocated = new WeakMap<ObjectSpec, WeakMap<Btf, ReturnType<typeof relocate>>>();

function relocateObject(obj: ObjectSpec, btf: Btf): ReturnType<typeof relocate> {
  let byBtf = relocated.get(obj);
  if (!byBtf) {
    byBtf = new WeakMap();
    relocated.set(obj, byBtf);
  }
  let r = byBtf.get(btf);
  if (!r) {
    r = relocate(obj, btf);
    byBtf.set(btf, r);
  }
  return r;
}

export interface PreparedProgram {
  /** The program as it would load: CO-RE applied for the kernel BTF. */
  readonly prog: ProgramSpec;
  /** A failure before verification (CO-RE relocation), reported as the program's error. */
  readonly error?: VerifyAbort;
}

/**
 * The program with CO-RE applied against the kernel BTF, as libbpf does before loading. A record
 * that fails stops the load in libbpf: it becomes the program's error (the loader's wording); a
 * poisoned instruction stays for the verifier, which rejects it as the kernel does.
 */
export function prepareProgram(obj: ObjectSpec, prog0: ProgramSpec, opts: BtfOptions): PreparedProgram {
  const prog = withKfuncCalls(prog0, opts);
  if (prog.coreRelos.length === 0) return { prog };
  const btf = kernelBtf(opts.btf).btf;
  const r = relocateObject(obj, btf);
  const core = r.spec.programs.find((p) => p.name === prog.name) ?? prog;
  // CO-RE patches other instructions than the kfunc calls: take its list, then mark the calls
  const out = core === prog ? prog : withKfuncCalls(core, opts);
  const failed = r.results.find((x) => x.program === prog.name && x.outcome === "failed");
  if (failed) {
    return {
      prog: out,
      error: new VerifyAbort(
        failed.insn,
        `CO-RE relocation failed: ${failed.kind} ${failed.localSpec} (access string ${failed.accessString}): ${failed.error?.message ?? "relocation failed"}`,
      ),
    };
  }
  return { prog: out };
}

/** bpf_iter programs only (tracing_prog_func_proto checks BPF_TRACE_ITER). */
const SEQ_HELPERS: ReadonlySet<string> = new Set(["bpf_seq_printf", "bpf_seq_write", "bpf_seq_printf_btf"]);
/** Programs with a BPF trampoline only (fentry, fexit, fmod_ret): not measured. */
const TRAMPOLINE_HELPERS: ReadonlySet<string> = new Set([
  "bpf_get_func_arg",
  "bpf_get_func_ret",
  "bpf_get_func_arg_cnt",
]);

const isKfuncCall = (i: Instruction): boolean => i.opcode === 0x85 && i.ref?.kind === "extern";

/**
 * Calls of ksym externs become BPF_PSEUDO_KFUNC_CALL (src 2) with the kernel BTF id of the
 * function in imm, as libbpf writes them (0 when the kernel has no such function).
 */
function withKfuncCalls(prog: ProgramSpec, opts: BtfOptions): ProgramSpec {
  if (!prog.insns.some(isKfuncCall)) return prog;
  const btf = kernelBtf(opts.btf).btf;
  const insns = prog.insns.map((i) => {
    if (!isKfuncCall(i) || i.ref?.kind !== "extern") return i;
    return { ...i, src: 2, imm: btf.findByName(i.ref.symbol, "FUNC")?.id ?? 0 };
  });
  return { ...prog, insns };
}

export interface BtfHooks extends BtfMemHooks {
  /** A kfunc call (call insn whose target is a ksym extern). */
  kfunc(st: VState, t: number, i: Instruction): void;
  /** An ARG_PTR_TO_BTF_ID helper argument. */
  helperArg(t: number, regno: number, reg: Reg, arg: HelperArg, helper: string, sockCommon?: boolean): void;
  /** R0 of a RET_PTR_TO_BTF_ID helper. */
  helperRet(t: number, ret: HelperType, btfType: string | undefined, helper: string): Reg;
  /** Parameters of the kfunc a call insn (src 2) names, for liveness (5 when unknown). */
  kfuncArgCount(i: Instruction): number;
  /**
   * Helper availability where the measured table (tracing was measured as tp_btf) does not
   * apply: the iterator-only seq helpers, the trampoline-only function-argument helpers.
   * Undefined: use the measured table.
   */
  helperAvailable(name: string, t: number): boolean | undefined;
  /** Main-program exit inside a bpf_rcu_read_lock region. */
  exitCheck(st: VState, t: number): void;
}

/** The BTF side of one program's verification; `newId` is the verifier's id generator. */
export function btfHooks(
  obj: ObjectSpec,
  prog: ProgramSpec,
  opts: BtfOptions,
  newId: () => number,
): BtfHooks {
  let ctx: BtfCtx | undefined;
  const btf = (): Btf => kernelBtf(opts.btf).btf;
  const typedCtx = prog.type.name === "tracing" || prog.type.name === "lsm";
  const gpl = isGplCompatible(prog.license);
  const structId = (typeName: string, t: number): number => {
    const name = typeName.replace(/^struct /, "");
    const found = btf().findByName(name, "STRUCT");
    if (!found) throw notModelled(t, `kernel type ${typeName}`);
    return found.id;
  };
  return {
    typedCtx,
    ctxLoad(insn, off, size, write) {
      ctx ??= btfCtxFor(prog, btf());
      return btfCtxLoad(ctx, insn, off, size, write, newId);
    },
    ptrAccess(st, insn, regno, reg, off, size, write) {
      const inRcu = (st.rcuLocks ?? 0) > 0 || !prog.sleepable;
      return btfPtrAccess({ gpl, inRcu, newId }, btf(), insn, regno, reg, off, size, write);
    },
    kfunc(st, t, i) {
      kfuncCall(
        {
          progType: prog.type.name,
          sleepable: prog.sleepable,
          kernelBtf: btf,
          externWeak: (name) => obj.externs.find((e) => e.kind === "ksym" && e.name === name)?.weak,
          newId,
        },
        st,
        t,
        i,
      );
    },
    helperArg(t, regno, reg, arg, helper, sockCommon = false) {
      const maybeNull = arg.flags.includes("PTR_MAYBE_NULL");
      if (maybeNull && reg.type === "scalar" && isConst(reg) && reg.varOff.value === 0n) return;
      // check_reg_type: btf_ptr_types (a maybe-NULL register only where the argument allows it)
      const bad =
        reg.type !== "btf_id" ||
        reg.btfFlag === "untrusted" ||
        (sockCommon && reg.btfFlag === "rcu") ||
        (reg.maybeNull && !maybeNull);
      if (bad) {
        const expected = sockCommon
          ? "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_"
          : "ptr_, trusted_ptr_, rcu_ptr_";
        throw new VerifyAbort(t, `R${regno} type=${regTypeStr(reg)} expected=${expected}`);
      }
      if (!arg.btfType) throw notModelled(t, `${helper} argument ${regno} without a fixed BTF type`);
      if (!isConst(reg) || reg.varOff.value !== 0n) {
        throw notModelled(t, `${helper} given a BTF pointer with a variable offset`);
      }
      const want = arg.btfType.replace(/^struct /, "");
      if (reg.off === 0 && reg.btfName === want) return;
      if (reg.btfId === undefined) throw notModelled(t, `${helper} given a BTF pointer without a type`);
      // btf_struct_ids_match: a pointer to a struct whose member at its offset is the one wanted
      if (structIdsMatch(btf(), reg.btfId, reg.off, structId(arg.btfType, t))) return;
      throw new VerifyAbort(t, `R${regno} is of type ${reg.btfName} but ${want} is expected`);
    },
    helperRet(t, ret, btfType, helper) {
      if (!btfType) throw notModelled(t, `${helper} returning a BTF pointer of no fixed type`);
      const id = structId(btfType, t);
      const maybeNull = ret.flags.includes("PTR_MAYBE_NULL");
      return pointer("btf_id", {
        btfId: id,
        btfName: btfType.replace(/^struct /, ""),
        ...(ret.flags.includes("PTR_TRUSTED") ? { btfFlag: "trusted" as const } : {}),
        ...(ret.flags.includes("MEM_RCU") ? { btfFlag: "rcu" as const } : {}),
        maybeNull,
        ...(maybeNull ? { id: newId() } : {}),
      });
    },
    helperAvailable(name, t) {
      if (prog.type.name !== "tracing") return undefined;
      const at = prog.expectedAttachType?.name;
      if (SEQ_HELPERS.has(name)) return at === "trace_iter";
      if (TRAMPOLINE_HELPERS.has(name) && at !== "trace_raw_tp") {
        throw notModelled(t, `${name} in ${at} programs`);
      }
      return undefined;
    },
    kfuncArgCount(i) {
      if (i.imm <= 0) return 5;
      const b = btf();
      if (i.imm >= b.typeCount) return 5;
      const fn = b.typeById(i.imm);
      const proto = fn.kind === "FUNC" ? b.typeById(fn.type) : undefined;
      return proto?.kind === "FUNC_PROTO" ? Math.min(proto.params.length, 5) : 5;
    },
    exitCheck(st, t) {
      if (st.rcuLocks) {
        throw new VerifyAbort(
          t,
          "BPF_EXIT instruction in main prog cannot be used inside bpf_rcu_read_lock-ed region",
        );
      }
    },
  };
}
