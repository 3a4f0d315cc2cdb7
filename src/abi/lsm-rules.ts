/**
 * What the 6.18 kernel promises BPF LSM programs (lsm, lsm.s, lsm_cgroup), as facts the verifier
 * reads: which hooks exist, are disabled, sleepable or pass untrusted arguments (the generated
 * table lsm-hooks.ts), each hook's return range (kernel/bpf/bpf_lsm.c bpf_lsm_get_retval_range,
 * verifier.c check_return_code), and which helpers bpf_lsm_func_proto hands out. The running
 * kernel here refuses lsm programs before its verifier, so none of this could be measured.
 */

import { KERNEL_HELPER_PROTO_USES } from "./helper-protos.js";
import { LSM_HOOK_DEFS, LSM_HOOK_SETS } from "./lsm-hooks.js";

const HOOKS: ReadonlySet<string> = new Set(LSM_HOOK_DEFS.map((h) => h.name));
const DISABLED: ReadonlySet<string> = new Set(LSM_HOOK_SETS.disabled);
const SLEEPABLE: ReadonlySet<string> = new Set(LSM_HOOK_SETS.sleepable);
const UNTRUSTED: ReadonlySet<string> = new Set(LSM_HOOK_SETS.untrusted);
const BOOL_RETURN: ReadonlySet<string> = new Set(LSM_HOOK_SETS.boolReturn);
const SOCKOPT_HOOKS: ReadonlySet<string> = new Set([
  ...LSM_HOOK_SETS.lockedSockopt,
  ...LSM_HOOK_SETS.unlockedSockopt,
]);

/** Hook names are the part after `bpf_lsm_` (file_open, task_free ...). */
export const isLsmHook = (hook: string): boolean => HOOKS.has(hook);
/** bpf_lsm_disabled_hooks: no BPF program may attach to these. */
export const isDisabledLsmHook = (hook: string): boolean => DISABLED.has(hook);
/** sleepable_lsm_hooks (bpf_lsm_is_sleepable_hook): lsm.s programs attach only to these. */
export const isSleepableLsmHook = (hook: string): boolean => SLEEPABLE.has(hook);
/** bpf_lsm_is_trusted: the hook's pointer arguments are PTR_TRUSTED (all but untrusted_lsm_hooks). */
export const lsmArgsTrusted = (hook: string): boolean => !UNTRUSTED.has(hook);

/** A hook's C return as the verifier sees it: void (BTF return 0), bool (bool_lsm_hooks), int. */
export type LsmHookReturn = "void" | "bool" | "int";
export function lsmHookReturn(hook: string, voidInBtf: boolean): LsmHookReturn {
  if (voidInBtf) return "void";
  return BOOL_RETURN.has(hook) ? "bool" : "int";
}

/** MAX_ERRNO: int LSM hooks return 0 or a negative errno. */
const MAX_ERRNO = 4095;

/** bpf_lsm_get_retval_range: what an lsm (BPF_LSM_MAC) program may return; none for void hooks. */
export function lsmRetvalRange(r: LsmHookReturn): { readonly min: number; readonly max: number } | undefined {
  if (r === "void") return undefined;
  return r === "bool" ? { min: 0, max: 1 } : { min: -MAX_ERRNO, max: 0 };
}

/** Helpers a get_func_proto function hands out for some id (from the generated prototype table). */
function handedOutBy(fn: string): ReadonlySet<string> {
  const out = new Set<string>();
  for (const [helper, uses] of Object.entries(KERNEL_HELPER_PROTO_USES)) {
    if (uses[fn]) out.add(`bpf_${helper}`);
  }
  return out;
}
/** bpf_lsm_func_proto's own cases (some conditional, see lsmHelperAvailable). */
const LSM_OWN: ReadonlySet<string> = handedOutBy("bpf_lsm_func_proto");
/** cgroup_common_func_proto, asked first for lsm_cgroup (its attach type is refused none of them). */
const CGROUP_COMMON: ReadonlySet<string> = handedOutBy("cgroup_common_func_proto");

/** Helpers of tracing_prog_func_proto that need a trampoline (bpf_prog_has_trampoline). */
const TRAMPOLINE_HELPERS: ReadonlySet<string> = new Set([
  "bpf_get_func_arg",
  "bpf_get_func_ret",
  "bpf_get_func_arg_cnt",
]);
/** tracing_prog_func_proto's iterator-only helpers. */
const SEQ_HELPERS: ReadonlySet<string> = new Set(["bpf_seq_printf", "bpf_seq_write", "bpf_seq_printf_btf"]);

/**
 * bpf_lsm_func_proto for helper `name` (bpf_ prefixed) in a program of libbpf attach type
 * `attach` (lsm_mac or lsm_cgroup) on `hook`: true/false where the lsm cases decide; undefined
 * where the answer is tracing_prog_func_proto's for a program that is not an iterator (the
 * measured tracing table, taken with tp_btf, differs from lsm only in the cases decided here).
 */
export function lsmHelperAvailable(name: string, attach: string, hook: string): boolean | undefined {
  const cgroup = attach === "lsm_cgroup";
  if (cgroup && CGROUP_COMMON.has(name)) return true;
  // bpf_prog_has_trampoline: lsm (BPF_LSM_MAC) yes, lsm_cgroup no
  if (name === "bpf_get_attach_cookie" || TRAMPOLINE_HELPERS.has(name)) return !cgroup;
  // bpf_lsm_locked_sockopt_hooks / bpf_lsm_unlocked_sockopt_hooks, lsm_cgroup only
  if (name === "bpf_setsockopt" || name === "bpf_getsockopt") return cgroup && SOCKOPT_HOOKS.has(hook);
  if (LSM_OWN.has(name)) return true;
  if (SEQ_HELPERS.has(name)) return false;
  return undefined;
}

/**
 * The `allowed(prog)` predicates of prototypes lsm programs get: bpf_ima_inode_hash_allowed
 * (bpf_ima_inode_hash and bpf_ima_file_hash) and bpf_d_path_allowed (lsm branch) both want a
 * sleepable hook. Undefined for other predicates.
 */
export function lsmHelperAllowed(predicate: string, hook: string): boolean | undefined {
  if (predicate === "bpf_ima_inode_hash_allowed" || predicate === "bpf_d_path_allowed")
    return SLEEPABLE.has(hook);
  return undefined;
}
