/**
 * BTF-typed contexts (tp_btf, fentry, fexit, fmod_ret, lsm, iter): the context is an array of u64
 * arguments typed by the attach target's BTF prototype (the kernel's btf_ctx_access, behind
 * tracing_prog_is_valid_access). A load of a pointer-to-struct argument gives a PTR_TO_BTF_ID
 * register; scalars, enums, struct-by-value and non-struct pointers give scalars.
 */

import { ctxAccessError } from "../abi/context-access.js";
import { lsmArgsTrusted, lsmRetvalRange } from "../abi/lsm-rules.js";
import { RAW_TP_NULL_ARGS } from "../abi/raw-tp-null-args.js";
import type { Btf } from "../elf/btf/btf.js";
import { BTF_KIND_NAMES, type BtfParam, type BtfType } from "../elf/btf/types.js";
import type { ProgramSpec } from "../elf/object/types.js";
import { notModelled, VerifyAbort } from "./errors.js";
import { type LsmTarget, lsmTarget, retvalLoad } from "./lsm.js";
import { signExtend, truncate } from "./scalar.js";
import { type BtfPtrFlag, notInit, pointer, type Reg, unknownScalar } from "./state.js";

/** MAX_BPF_FUNC_ARGS: the trampoline context holds at most 12 u64 slots. */
const MAX_BPF_FUNC_ARGS = 12;

export interface BtfCtx {
  readonly btf: Btf;
  /** attach_func_name: the tracepoint without `btf_trace_`, else the function's name. */
  readonly tname: string;
  /** The prototype's parameters, the tracepoint's `void *__data` included. */
  readonly params: readonly BtfParam[];
  /** Whether the first parameter is the tracepoint's `__data` (tp_btf). */
  readonly skipFirst: boolean;
  readonly returnType: number;
  /** libbpf name of the expected attach type. */
  readonly attach: string;
  /** prog_args_trusted: tp_btf, iter and (for most hooks) lsm arguments are PTR_TRUSTED. */
  readonly trusted: boolean;
  /** Per-offset overrides (the iterator's ctx_arg_info). */
  readonly ctxArgs?: ReadonlyMap<number, CtxArg>;
  /**
   * lsm and lsm_cgroup: the hook, and the range a read of its return value gets (lsm on int and
   * bool hooks). Their is_valid_access is btf_ctx_access itself, without the tracing checks.
   */
  readonly lsm?: { readonly target: LsmTarget; readonly retval?: { min: number; max: number } };
}

/** bpf_iter targets whose ctx_arg_info we know (checked against the 6.18 kernel): offset -> register type. */
type CtxArg = { readonly maybeNull: boolean; readonly flag?: BtfPtrFlag };
const ITER_CTX_ARGS: Readonly<Record<string, ReadonlyMap<number, CtxArg>>> = {
  task: new Map([[8, { maybeNull: true, flag: "trusted" }]]),
  task_file: new Map([
    [8, { maybeNull: true }],
    [24, { maybeNull: true }],
  ]),
  task_vma: new Map([
    [8, { maybeNull: true }],
    [16, { maybeNull: true }],
  ]),
};

export const kindName = (t: BtfType): string => (t.kind === "VOID" ? "UNKNOWN" : BTF_KIND_NAMES[kindNo(t)]!);
function kindNo(t: BtfType): number {
  return BTF_KIND_NAMES.indexOf(t.kind);
}

function skipMods(btf: Btf, id: number): { id: number; t: BtfType } {
  let cur = id;
  for (let n = 0; n < 64; n++) {
    const t = btf.typeById(cur);
    if (
      t.kind === "TYPEDEF" ||
      t.kind === "CONST" ||
      t.kind === "VOLATILE" ||
      t.kind === "RESTRICT" ||
      t.kind === "TYPE_TAG"
    ) {
      cur = t.type;
      continue;
    }
    return { id: cur, t };
  }
  return { id: cur, t: btf.typeById(cur) };
}

export { skipMods };

/** The BTF name of a program's attach target, as libbpf looks it up (undefined: not BTF-typed). */
export function attachBtfName(prog: ProgramSpec): { name: string; kind: "TYPEDEF" | "FUNC" } | undefined {
  const at = prog.expectedAttachType?.name;
  const target = prog.attachTarget;
  if (target === undefined) return undefined;
  if (prog.type.name !== "tracing" && prog.type.name !== "lsm") return undefined;
  if (at === "trace_raw_tp") return { name: `btf_trace_${target}`, kind: "TYPEDEF" };
  if (at === "lsm_mac" || at === "lsm_cgroup") return { name: `bpf_lsm_${target}`, kind: "FUNC" };
  if (at === "trace_iter") return { name: `bpf_iter_${target}`, kind: "FUNC" };
  return { name: target, kind: "FUNC" };
}

/**
 * The BTF context of a tracing/lsm program, from the kernel BTF; throws VerifyAbort with the
 * loader's message when the target does not exist (libbpf stops before the verifier).
 */
export function btfCtxFor(prog: ProgramSpec, btf: Btf): BtfCtx {
  const target = attachBtfName(prog);
  const at = prog.expectedAttachType?.name ?? "";
  if (!target) throw notModelled(0, `context of program type ${prog.type.name} without an attach target`);
  const found = btf.findByName(target.name, target.kind);
  if (!found) {
    throw new VerifyAbort(
      0,
      `attach target '${prog.attachTarget}' not found in the kernel's BTF (${target.kind} ${target.name})`,
    );
  }
  let protoId: number;
  let tname = found.name;
  if (target.kind === "TYPEDEF") {
    // btf_trace_<tp>: typedef -> pointer -> prototype whose first parameter is void *__data
    const ptr = btf.typeById((found as { type: number }).type);
    if (ptr.kind !== "PTR") throw notModelled(0, `tracepoint typedef ${target.name}`);
    protoId = ptr.type;
    tname = target.name.slice("btf_trace_".length);
  } else protoId = (found as { type: number }).type;
  const proto = btf.typeById(protoId);
  if (proto.kind !== "FUNC_PROTO") throw notModelled(0, `attach target ${target.name} without a prototype`);
  let ctxArgs: BtfCtx["ctxArgs"];
  if (at === "trace_iter") {
    ctxArgs = ITER_CTX_ARGS[prog.attachTarget ?? ""];
    if (!ctxArgs) throw notModelled(0, `iterator ${prog.attachTarget}`);
  }
  let lsm: BtfCtx["lsm"];
  if (prog.type.name === "lsm") {
    const t = lsmTarget(prog, btf)!;
    const retval = at === "lsm_mac" ? lsmRetvalRange(t.returns) : undefined;
    lsm = { target: t, ...(retval ? { retval } : {}) };
  }
  if (target.kind === "FUNC" && at !== "trace_iter") {
    // btf_distill_func_proto refuses these at attach time, before the verifier: not modelled
    const big = proto.params.some((p) => {
      if (p.type === 0) return true;
      const { t } = skipMods(btf, p.type);
      return (t.kind === "STRUCT" || t.kind === "UNION") && t.size > 16;
    });
    if (proto.params.length > MAX_BPF_FUNC_ARGS || big)
      throw notModelled(0, `trampolines for ${target.name}() (argument count or types)`);
  }
  return {
    btf,
    tname,
    params: proto.params,
    skipFirst: target.kind === "TYPEDEF",
    returnType: proto.returnType,
    attach: at,
    trusted:
      at === "trace_raw_tp" || at === "trace_iter" || (lsm !== undefined && lsmArgsTrusted(lsm.target.hook)),
    ...(ctxArgs ? { ctxArgs } : {}),
    ...(lsm ? { lsm } : {}),
  };
}

/** btf_ctx_arg_idx: which argument covers byte `off` (struct arguments take 8 or 16 bytes). */
function argIndex(ctx: BtfCtx, off: number): number {
  // the kernel compares the int offset with a u32: a negative one is past every argument
  if (off < 0) return ctx.params.length + 1;
  let offset = 0;
  const slots = (id: number): number => {
    const { t } = skipMods(ctx.btf, id);
    if (t.kind === "PTR") return 8;
    if (t.kind === "VOID") return 0;
    const size = "size" in t && typeof t.size === "number" ? t.size : 8;
    return Math.ceil(size / 8) * 8;
  };
  for (let i = 0; i < ctx.params.length; i++) {
    offset += slots(ctx.params[i]!.type);
    if (off < offset) return i;
  }
  offset += slots(ctx.returnType);
  if (off < offset) return ctx.params.length;
  return ctx.params.length + 1;
}

const isSmallInt = (t: BtfType): boolean => t.kind === "INT" && t.size <= 8;

/**
 * A load from the context (tracing_prog_is_valid_access + btf_ctx_access): the loaded register.
 * `idGen` numbers maybe-NULL pointers. Messages: the kernel's btf_ctx_access line (when it logs
 * one) then "invalid bpf_context access off=.. size=..".
 */
export function btfCtxLoad(
  ctx: BtfCtx,
  insn: number,
  off: number,
  size: number,
  write: boolean,
  idGen: () => number,
  /** The destination register before the load (a read of an lsm hook's return value narrows it). */
  prev: () => Reg = notInit,
  /** BPF_MEMSX: a narrow scalar is sign-extended (coerce_reg_to_size_sx), not zero-extended. */
  signExt = false,
): Reg {
  const r = btfCtxAccess(ctx, insn, off, size, write, idGen, prev, signExt);
  // btf_ctx_access lets an lsm program's store through once the slot checks pass; the VM keeps
  // the context read-only and no selftest shows the kernel accepting one: refused, not guessed
  if (write) throw notModelled(insn, "stores into an lsm program's context");
  return r;
}

/** btf_ctx_access (behind tracing_prog_is_valid_access for tracing programs). */
function btfCtxAccess(
  ctx: BtfCtx,
  insn: number,
  off: number,
  size: number,
  write: boolean,
  idGen: () => number,
  prev: () => Reg,
  signExt: boolean,
): Reg {
  const refuse = (why?: string): never => {
    throw new VerifyAbort(insn, `${why ? `${why}\n` : ""}${ctxAccessError(off, size)}`);
  };
  // tracing_prog_is_valid_access checks these before btf_ctx_access; lsm has btf_ctx_access alone
  if (!ctx.lsm && (off < 0 || off >= 8 * MAX_BPF_FUNC_ARGS || write || off % size !== 0)) refuse();
  if (off % 8 !== 0) refuse(`func '${ctx.tname}' offset ${off} is not multiple of 8`);
  let arg = argIndex(ctx, off);
  let nrArgs = ctx.params.length;
  let first = 0;
  if (ctx.skipFirst) {
    first = 1;
    nrArgs--;
  }
  // btf_ctx_arg_idx counted the tracepoint's __data too; the context does not hold it
  arg = Math.min(arg, ctx.params.length + 1);
  if (arg > nrArgs) refuse(`func '${ctx.tname}' doesn't have ${arg + 1}-th argument`);
  let typeId: number;
  let isRetval = false;
  if (arg === nrArgs) {
    // lsm programs on void hooks use fexit trampolines, on int hooks fmod_ret-like ones
    if (ctx.attach === "trace_fexit" || ctx.attach === "lsm_mac" || ctx.attach === "lsm_cgroup") {
      isRetval = ctx.attach === "lsm_mac";
      typeId = ctx.returnType;
    } else if (ctx.attach === "modify_return") {
      const { t } = skipMods(ctx.btf, ctx.returnType);
      if (!isSmallInt(t)) refuse(`ret type ${kindName(t)} not allowed for fmod_ret`);
      typeId = ctx.returnType;
    } else return refuse(`func '${ctx.tname}' doesn't have ${arg + 1}-th argument`);
  } else typeId = ctx.params[arg + first]!.type;
  const param = arg < nrArgs ? ctx.params[arg + first] : undefined;
  const { t } = skipMods(ctx.btf, typeId);
  const narrow = (r: Reg): Reg => {
    if (size < 8) (signExt ? signExtend : truncate)(r, size);
    return r;
  };
  const scalar = (): Reg => narrow(unknownScalar());
  if (
    isSmallInt(t) ||
    t.kind === "ENUM" ||
    t.kind === "ENUM64" ||
    t.kind === "STRUCT" ||
    t.kind === "UNION"
  ) {
    if (!isRetval || !ctx.lsm?.retval) return scalar();
    return narrow(retvalLoad(prev(), ctx.lsm.retval));
  }
  if (t.kind !== "PTR") {
    refuse(
      `func '${ctx.tname}' arg${arg} '${t.name}' has type ${kindName(t)}. Only pointer access is allowed`,
    );
  }
  if (size !== 8) refuse(`func '${ctx.tname}' size ${size} must be 8`);
  const pointee = skipMods(ctx.btf, (t as { type: number }).type);
  // is_void_or_int_ptr: no pointer walking, the same as a scalar
  if (pointee.t.kind === "VOID" || pointee.t.kind === "INT") return scalar();
  const tag = ctx.btf.typeById((t as { type: number }).type);
  if (tag.kind === "TYPE_TAG")
    throw notModelled(insn, `context arguments tagged ${tag.name} (MEM_USER, MEM_PERCPU)`);
  const name = pointee.t.name;
  const special = ctx.ctxArgs?.get(off);
  if (special) {
    return pointer("btf_id", {
      btfId: pointee.id,
      btfName: name,
      ...(special.flag ? { btfFlag: special.flag } : {}),
      maybeNull: special.maybeNull,
      ...(special.maybeNull ? { id: idGen() } : {}),
    });
  }
  if (pointee.t.kind !== "STRUCT" && pointee.t.kind !== "UNION")
    refuse(`func '${ctx.tname}' arg${arg} type ${kindName(pointee.t)} is not a struct`);
  let maybeNull = param?.name.endsWith("__nullable") ?? false;
  if (ctx.attach === "trace_raw_tp") {
    const mask = RAW_TP_NULL_ARGS.get(ctx.tname) ?? 0;
    if (mask & (0x1 * 2 ** (arg * 4))) maybeNull = true;
    if (mask & (0x2 * 2 ** (arg * 4))) return scalar();
  }
  if (pointee.t.kind === "UNION" && name === "") throw notModelled(insn, "pointers to anonymous unions");
  return pointer("btf_id", {
    btfId: pointee.id,
    btfName: name,
    ...(ctx.trusted ? { btfFlag: "trusted" as const } : {}),
    maybeNull,
    ...(maybeNull ? { id: idGen() } : {}),
  });
}
