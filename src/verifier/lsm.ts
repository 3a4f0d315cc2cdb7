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
 * - helpers (bpf_lsm_func_proto): the LSM cases, then tracing_prog_func_proto.
 * The running kernel here refuses every lsm program with EPERM before its verifier (see
 * test/fixtures/verifier-lsm/README.md): these rules are read from the sources, not measured.
 */

import { LSM_HOOK_DEFS, LSM_HOOK_SETS } from "../abi/lsm-hooks.js";
import { isGplCompatible } from "../abi/program-rules.js";
import type { Btf } from "../elf/btf/btf.js";
import type { ProgramSpec } from "../elf/object/types.js";
import { VerifyAbort } from "./errors.js";
import { assignBounds, boundsEmpty, syncBounds } from "./scalar.js";
import { type Reg, unknownScalar } from "./state.js";

const HOOKS: ReadonlySet<string> = new Set(LSM_HOOK_DEFS.map((h) => h.name));
const DISABLED: ReadonlySet<string> = new Set(LSM_HOOK_SETS.disabled);
const SLEEPABLE: ReadonlySet<string> = new Set(LSM_HOOK_SETS.sleepable);
const UNTRUSTED: ReadonlySet<string> = new Set(LSM_HOOK_SETS.untrusted);
const BOOL_RETURN: ReadonlySet<string> = new Set(LSM_HOOK_SETS.boolReturn);
const SOCKOPT_HOOKS: ReadonlySet<string> = new Set([
  ...LSM_HOOK_SETS.lockedSockopt,
  ...LSM_HOOK_SETS.unlockedSockopt,
]);

/** MAX_ERRNO: int LSM hooks return 0 or a negative errno. */
const MAX_ERRNO = 4095;

const PREFIX = "bpf_lsm_";

/** The attach target of an lsm program: `bpf_lsm_<hook>` in the kernel BTF. */
export interface LsmTarget {
  /** The name after `bpf_lsm_` (a hook when it is in lsm_hook_defs.h). */
  readonly hook: string;
  /** The BTF function's name (attach_func_name, the name in messages). */
  readonly funcName: string;
  readonly btfId: number;
  /** The hook's C return: void (BTF return type 0), bool (bool_lsm_hooks) or int. */
  readonly returns: "void" | "bool" | "int";
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
    returns: voidRet ? "void" : BOOL_RETURN.has(name) ? "bool" : "int",
  };
}

/**
 * check_attach_btf_id for BPF_PROG_TYPE_LSM, after the target was found: the sleepable check of
 * bpf_check_attach_target, then bpf_lsm_verify_prog. The kernel logs no instruction: insn 0.
 */
export function lsmAttachCheck(prog: ProgramSpec, t: LsmTarget): void {
  if (prog.sleepable && !SLEEPABLE.has(t.hook)) throw new VerifyAbort(0, `${t.funcName} is not sleepable`);
  if (!isGplCompatible(prog.license))
    throw new VerifyAbort(0, "LSM programs must have a GPL compatible license");
  if (DISABLED.has(t.hook))
    throw new VerifyAbort(0, `attach_btf_id ${t.btfId} points to disabled hook ${t.funcName}`);
  if (!HOOKS.has(t.hook))
    throw new VerifyAbort(0, `attach_btf_id ${t.btfId} points to wrong type name ${t.funcName}`);
}

/** prog_args_trusted for lsm (bpf_lsm_is_trusted): every hook but untrusted_lsm_hooks. */
export const lsmArgsTrusted = (hook: string): boolean => !UNTRUSTED.has(hook);

/** bpf_lsm_get_retval_range: the range of an lsm (not lsm_cgroup) hook; undefined for void hooks. */
export function lsmRetvalRange(t: LsmTarget): { readonly min: number; readonly max: number } | undefined {
  if (t.returns === "void") return undefined;
  return t.returns === "bool" ? { min: 0, max: 1 } : { min: -MAX_ERRNO, max: 0 };
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

/** Helpers of tracing_prog_func_proto that need a trampoline (bpf_prog_has_trampoline). */
const TRAMPOLINE_HELPERS: ReadonlySet<string> = new Set([
  "bpf_get_func_arg",
  "bpf_get_func_ret",
  "bpf_get_func_arg_cnt",
]);
const SEQ_HELPERS: ReadonlySet<string> = new Set(["bpf_seq_printf", "bpf_seq_write", "bpf_seq_printf_btf"]);
/** The cases of bpf_lsm_func_proto's own switch that every lsm program gets. */
const LSM_ONLY_HELPERS: ReadonlySet<string> = new Set([
  "bpf_inode_storage_get",
  "bpf_inode_storage_delete",
  "bpf_sk_storage_get",
  "bpf_sk_storage_delete",
  "bpf_spin_lock",
  "bpf_spin_unlock",
  "bpf_bprm_opts_set",
  "bpf_ima_inode_hash",
  "bpf_ima_file_hash",
]);
/** cgroup_common_func_proto, asked first for lsm_cgroup (its attach type refuses none of them). */
const CGROUP_COMMON_HELPERS: ReadonlySet<string> = new Set([
  "bpf_get_local_storage",
  "bpf_get_retval",
  "bpf_set_retval",
]);

/**
 * bpf_lsm_func_proto: true/false where the lsm cases decide, undefined where the answer is
 * tracing_prog_func_proto's for a non-iterator program (the measured tracing table, taken with
 * tp_btf, whose differences from lsm are the cases here).
 */
export function lsmHelperAvailable(name: string, attach: string, hook: string): boolean | undefined {
  const cgroup = attach === "lsm_cgroup";
  if (cgroup && CGROUP_COMMON_HELPERS.has(name)) return true;
  if (LSM_ONLY_HELPERS.has(name)) return true;
  // bpf_prog_has_trampoline: lsm (BPF_LSM_MAC) yes, lsm_cgroup no
  if (name === "bpf_get_attach_cookie" || TRAMPOLINE_HELPERS.has(name)) return !cgroup;
  if (name === "bpf_setsockopt" || name === "bpf_getsockopt") return cgroup && SOCKOPT_HOOKS.has(hook);
  if (SEQ_HELPERS.has(name)) return false;
  return undefined;
}

/**
 * The `allowed(prog)` predicates lsm programs meet: bpf_ima_inode_hash_allowed and
 * bpf_d_path_allowed (lsm branch) both ask for a sleepable hook. Undefined: not an lsm answer.
 */
export function lsmHelperAllowed(predicate: string, hook: string): boolean | undefined {
  if (predicate === "bpf_ima_inode_hash_allowed" || predicate === "bpf_d_path_allowed")
    return SLEEPABLE.has(hook);
  return undefined;
}
