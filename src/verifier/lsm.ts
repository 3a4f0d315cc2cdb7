/**
 * BPF LSM programs (SEC("lsm/..."), "lsm.s/...", "lsm_cgroup/..."): what the 6.18 kernel checks
 * beyond the BTF-typed context of btf-ctx.ts. Facts from kernel/bpf/bpf_lsm.c and verifier.c:
 * - attach target (check_attach_btf_id -> bpf_check_attach_target, then bpf_lsm_verify_prog): a
 *   sleepable program needs a hook of sleepable_lsm_hooks, the licence must be GPL-compatible,
 *   disabled hooks and bpf_lsm_ functions that are not hooks are refused;
 * - return values (check_return_code with bpf_lsm_get_retval_range): void hooks any value (R0 not
 *   even read), bool hooks [0, 1], other hooks [-MAX_ERRNO, 0], both on the low 32 bits;
 *   lsm_cgroup [0, 1] or, on void hooks, [1, 1];
 * - the hook's return value read from the context (is_retval) takes the hook's range;
 * The facts themselves (hook sets, ranges, bpf_lsm_func_proto) are in src/abi/lsm-rules.ts.
 * The running kernel here refuses every lsm program with EPERM before its verifier (see
 * test/fixtures/verifier-lsm/README.md): these rules are read from the sources, not measured.
 */

import {
  isDisabledLsmHook,
  isLsmHook,
  isSleepableLsmHook,
  type LsmHookReturn,
  lsmHookReturn,
} from "../abi/lsm-rules.js";
import { isGplCompatible } from "../abi/program-rules.js";
import type { Btf } from "../elf/btf/btf.js";
import type { ProgramSpec } from "../elf/object/types.js";
import { VerifyAbort } from "./errors.js";
import { assignBounds, boundsEmpty, syncBounds } from "./scalar.js";
import { type Reg, unknownScalar } from "./state.js";

const PREFIX = "bpf_lsm_";

/** The attach target of an lsm program: `bpf_lsm_<hook>` in the kernel BTF. */
export interface LsmTarget {
  /** The name after `bpf_lsm_` (a hook when it is in lsm_hook_defs.h). */
  readonly hook: string;
  /** The BTF function's name (attach_func_name, the name in messages). */
  readonly funcName: string;
  readonly btfId: number;
  /** The hook's C return: void (BTF return type 0), bool (bool_lsm_hooks) or int. */
  readonly returns: LsmHookReturn;
}

/** The lsm program's target in `btf`, or undefined when libbpf would not find `bpf_lsm_<name>`. */
export function lsmTarget(prog: ProgramSpec, btf: Btf): LsmTarget | undefined {
  const name = prog.attachTarget;
  if (name === undefined) return undefined;
  const fn = btf.findByName(`${PREFIX}${name}`, "FUNC");
  if (fn?.kind !== "FUNC") return undefined;
  const proto = btf.typeById(fn.type);
  const voidRet = proto.kind === "FUNC_PROTO" && proto.returnType === 0;
  return {
    hook: name,
    funcName: fn.name,
    btfId: fn.id,
    returns: lsmHookReturn(name, voidRet),
  };
}

/**
 * check_attach_btf_id for BPF_PROG_TYPE_LSM, after the target was found: the sleepable check of
 * bpf_check_attach_target, then bpf_lsm_verify_prog. The kernel logs no instruction: insn 0.
 */
export function lsmAttachCheck(prog: ProgramSpec, t: LsmTarget): void {
  if (prog.sleepable && !isSleepableLsmHook(t.hook))
    throw new VerifyAbort(0, `${t.funcName} is not sleepable`);
  if (!isGplCompatible(prog.license))
    throw new VerifyAbort(0, "LSM programs must have a GPL compatible license");
  if (isDisabledLsmHook(t.hook))
    throw new VerifyAbort(0, `attach_btf_id ${t.btfId} points to disabled hook ${t.funcName}`);
  if (!isLsmHook(t.hook))
    throw new VerifyAbort(0, `attach_btf_id ${t.btfId} points to wrong type name ${t.funcName}`);
}

/**
 * A read of the hook's return value from the context (btf_ctx_access sets is_retval; the load
 * then narrows the destination with __mark_reg_s32_range): the kernel narrows the register the
 * destination held before the load, not a fresh unknown one. A contradiction is the kernel's
 * "REG INVARIANTS VIOLATION", after which it continues with an unbounded scalar.
 */
export function retvalLoad(prev: Reg, range: { readonly min: number; readonly max: number }): Reg {
  const r = unknownScalar();
  assignBounds(r, prev);
  const lo = BigInt(range.min);
  const hi = BigInt(range.max);
  if (r.s32min < lo) r.s32min = lo;
  if (r.s32max > hi) r.s32max = hi;
  if (r.smin < lo) r.smin = lo;
  if (r.smax > hi) r.smax = hi;
  if (!boundsEmpty(r)) syncBounds(r);
  if (boundsEmpty(r)) return unknownScalar();
  return r;
}

/**
 * check_helper_call's lsm case after the arguments: an lsm_cgroup program on a void hook may not
 * call bpf_set_retval (there is no return value to set).
 */
export function lsmHelperCallCheck(prog: ProgramSpec, t: LsmTarget, name: string, insn: number): void {
  if (name === "bpf_set_retval" && prog.expectedAttachType?.name === "lsm_cgroup" && t.returns === "void")
    throw new VerifyAbort(insn, "BPF_LSM_CGROUP that attach to void LSM hooks can't modify return value!");
}
