/**
 * Typed `__ksym` externs (ld_imm64 BPF_PSEUDO_BTF_ID): a kernel variable or function named by its
 * kernel BTF id, as the 6.18 verifier types them (__check_pseudo_btf_id, check_ld_imm):
 * - a per-CPU variable (a VAR of the `.data..percpu` DATASEC): PTR_TO_BTF_ID | MEM_PERCPU of the
 *   variable's type, which cannot be dereferenced, only passed to bpf_per_cpu_ptr /
 *   bpf_this_cpu_ptr (ARG_PTR_TO_PERCPU_BTF_ID), which return RET_PTR_TO_MEM_OR_BTF_ID: a
 *   PTR_TO_BTF_ID for a struct, read-only memory of the type's size otherwise (maybe NULL for
 *   bpf_per_cpu_ptr);
 * - another variable: PTR_TO_BTF_ID for a struct, read-only memory of its size otherwise;
 * - a function: read-only memory of size 0 (bpf_ksym_exists).
 * The kernel first looks the symbol up with kallsyms_lookup_name: a kernel without
 * CONFIG_KALLSYMS_ALL (this one) has no data symbols there and refuses every typed variable.
 * That lookup is judged from /proc/kallsyms when the kernel BTF is the running kernel's; for
 * another BTF we cannot know, and refuse as not modelled.
 */
import type { Btf } from "../elf/btf/btf.js";
import type { BtfType } from "../elf/btf/types.js";
import { type KallsymsEntry, kallsymsLookup } from "../loader/kallsyms.js";
import { notModelled, VerifyAbort } from "./errors.js";
import { KERNEL_BTF_DEFAULT } from "./kernel-btf.js";
import { pointer, type Reg, regTypeStr } from "./state.js";

const MODIFIERS: ReadonlySet<string> = new Set(["TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "TYPE_TAG"]);

function skipModifiers(btf: Btf, id: number): { readonly id: number; readonly t: BtfType } {
  let cur = id;
  let t = btf.typeById(cur);
  while (MODIFIERS.has(t.kind)) {
    cur = (t as { type: number }).type;
    t = btf.typeById(cur);
  }
  return { id: cur, t };
}

const isStruct = (t: BtfType): boolean => t.kind === "STRUCT" || t.kind === "UNION";

/** find_btf_percpu_datasec's members: the VAR ids of `.data..percpu`. */
const percpuVars = new WeakMap<Btf, ReadonlySet<number>>();

function isPercpuVar(btf: Btf, varId: number): boolean {
  let set = percpuVars.get(btf);
  if (!set) {
    const sec = btf.findByName(".data..percpu", "DATASEC");
    set = new Set(sec?.kind === "DATASEC" ? sec.vars.map((v) => v.type) : []);
    percpuVars.set(btf, set);
  }
  return set.has(varId);
}

/** btf_resolve_size: the byte size of a non-struct type (arrays whole), or undefined. */
function resolveSize(btf: Btf, id: number): number | undefined {
  try {
    return btf.sizeOf(id);
  } catch {
    return undefined;
  }
}

export interface KsymOptions {
  /**
   * Another kernel's kallsyms_lookup_name (default: /proc/kallsyms, consulted only when the
   * kernel BTF is the running kernel's): whether a typed ksym has an address.
   */
  readonly kallsyms?: (name: string) => KallsymsEntry;
}

export interface KsymEnv extends KsymOptions {
  /** An unprivileged loader: typed ksyms are not modelled for it. */
  readonly unprivileged?: boolean;
  readonly btf: Btf;
  /** The --btf option: undefined or the default path means the running kernel's BTF. */
  readonly btfPath: string | Btf | undefined;
}

/** Whether /proc/kallsyms describes the kernel the BTF belongs to (the running one). */
const judgesRunningKernel = (p: string | Btf | undefined): boolean =>
  p === undefined || p === KERNEL_BTF_DEFAULT;

/**
 * The register an ld_imm64 of the typed ksym `name` (a kernel BTF VAR, or a FUNC when
 * `isFunction`) loads at insn t; throws the kernel's refusal or notModelled.
 */
export function typedKsymReg(env: KsymEnv, t: number, name: string, isFunction: boolean): Reg {
  const { btf } = env;
  if (env.unprivileged) throw notModelled(t, `typed ksym ${name} for an unprivileged loader`);
  const ty = btf.findByName(name, isFunction ? "FUNC" : "VAR");
  if (!ty) throw notModelled(t, `ksym ${name} without a kernel BTF ${isFunction ? "FUNC" : "VAR"}`);
  const k = (env.kallsyms ?? kallsymsLookup)(name);
  if (!k.present) {
    if (env.kallsyms === undefined && (!judgesRunningKernel(env.btfPath) || !kallsymsReadable()))
      throw notModelled(t, `whether kernel symbol ${name} has a kallsyms address (CONFIG_KALLSYMS_ALL)`);
    throw new VerifyAbort(t, `ldimm64 failed to find the address for kernel symbol '${name}'.`);
  }
  if (isFunction) return pointer("mem", { rdonly: true, memSize: 0 });
  const varId = btf.findAllByName(name).find((id) => btf.typeById(id).kind === "VAR") ?? ty.id;
  const type = (btf.typeById(varId) as { type: number }).type;
  const target = skipModifiers(btf, type);
  if (isPercpuVar(btf, varId)) {
    return pointer("btf_id", { btfId: type, btfName: btf.typeById(type).name, btfFlag: "percpu" });
  }
  if (isStruct(target.t)) return pointer("btf_id", { btfId: type, btfName: btf.typeById(type).name });
  const size = resolveSize(btf, target.id);
  if (size === undefined) {
    throw new VerifyAbort(t, `ldimm64 unable to resolve the size of type '${target.t.name}': -22`);
  }
  return pointer("mem", { rdonly: true, memSize: size });
}

let readable: boolean | undefined;
/** A kallsyms table with entries: absence from it means the kernel has no such symbol. */
function kallsymsReadable(): boolean {
  readable ??= kallsymsLookup("_stext").present || kallsymsLookup("startup_64").present;
  return readable;
}

const PERCPU_EXPECTED = "percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_";

/** check_reg_type / check_func_arg for ARG_PTR_TO_PERCPU_BTF_ID: the type the helper returns. */
export function percpuBtfArg(t: number, regno: number, reg: Reg): { readonly btfId: number } {
  if (reg.type !== "btf_id" || reg.btfFlag !== "percpu" || reg.maybeNull)
    throw new VerifyAbort(t, `R${regno} type=${regTypeStr(reg)} expected=${PERCPU_EXPECTED}`);
  if (!reg.btfId) throw new VerifyAbort(t, `Helper has invalid btf_id in R${regno}`);
  // check_func_arg_reg_off: a per-CPU pointer must not be moved
  if (reg.off !== 0 || reg.varOff.value !== 0n || reg.varOff.mask !== 0n)
    throw notModelled(t, "a per-CPU ksym pointer with an offset");
  return { btfId: reg.btfId };
}

/**
 * R0 of RET_PTR_TO_MEM_OR_BTF_ID (bpf_per_cpu_ptr, bpf_this_cpu_ptr) for the type `btfId` of
 * the per-CPU argument: PTR_TO_BTF_ID for a struct (MEM_RDONLY dropped), else read-only memory.
 */
export function percpuBtfRet(
  btf: Btf,
  t: number,
  btfId: number,
  maybeNull: boolean,
  newId: () => number,
): Reg {
  const target = skipModifiers(btf, btfId);
  const nullable = maybeNull ? { maybeNull: true, id: newId() } : {};
  if (isStruct(target.t)) return pointer("btf_id", { btfId, btfName: btf.typeById(btfId).name, ...nullable });
  const size = resolveSize(btf, target.id);
  if (size === undefined)
    throw new VerifyAbort(t, `unable to resolve the size of type '${target.t.name}': -22`);
  return pointer("mem", { rdonly: true, memSize: size, ...nullable });
}

/**
 * resolve_pseudo_ldimm64's part for typed ksyms, before any instruction runs (processed 0): the
 * first ld_imm64 (in instruction order) of a typed ksym the kernel cannot resolve fails the load.
 * `typed(name)` says whether an extern is a typed ksym (and whether it is a function).
 */
export function checkKsymLoads(
  env: KsymEnv,
  code: readonly (
    | { readonly opcode: number; readonly ref?: { kind: string; symbol?: string } }
    | undefined
  )[],
  typed: (name: string) => { readonly isFunction: boolean } | undefined,
): void {
  code.forEach((i, t) => {
    if (i?.opcode !== 0x18 || i.ref?.kind !== "extern" || !i.ref.symbol) return;
    const k = typed(i.ref.symbol);
    if (k) typedKsymReg(env, t, i.ref.symbol, k.isFunction);
  });
}
