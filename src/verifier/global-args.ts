/**
 * Arguments of global (BTF_FUNC_GLOBAL) functions, as the 6.18 kernel derives them from BTF
 * (btf_prepare_func_args) and checks a caller's registers against them (btf_check_subprog_call
 * -> btf_check_func_arg_match). Modelled: integers and enums (unknown scalars), context pointers
 * (a pointer to the program type's context struct, or any pointer tagged `arg:ctx`), and
 * pointers to sized types (memory of that size, maybe-NULL unless tagged `arg:nonnull`).
 * Dynptr arguments (`struct bpf_dynptr *`) are const local dynptrs in the callee. The other
 * 6.18 tags: `arg:trusted` (maybe with `arg:nullable`) and `arg:untrusted` pointers to kernel
 * structs (PTR_TO_BTF_ID, the kernel type found as CO-RE candidates are), `arg:untrusted` void
 * or primitive pointers (read-only untrusted memory), `arg:arena` (a scalar in the callee), and
 * the kernel's refusals of tag combinations.
 */
import type { Btf } from "../elf/btf/btf.js";
import type { BtfType } from "../elf/btf/types.js";
import type { Instruction } from "../isa/instruction.js";
import { structIdsMatch } from "./btf-access.js";
import { constDynptr, dynptrArg } from "./dynptr.js";
import { notModelled, VerifyAbort } from "./errors.js";
import { checkHelperMem, type MemEnv } from "./memory.js";
import { isConst } from "./scalar.js";
import { copyReg, pointer, type Reg, regTypeStr, unknownScalar, type VState } from "./state.js";

export type GlobalArg =
  | { readonly kind: "scalar" }
  | { readonly kind: "ctx" }
  /** `struct bpf_dynptr *`: ARG_PTR_TO_DYNPTR | MEM_RDONLY, a const local dynptr in the callee. */
  | { readonly kind: "dynptr" }
  | { readonly kind: "mem"; readonly size: number; readonly nullable: boolean }
  /** `arg:trusted` (maybe `arg:nullable`) or `arg:untrusted` pointer to a kernel struct. */
  | {
      readonly kind: "btf";
      readonly btfId: number;
      readonly btfName: string;
      readonly trust: "trusted" | "untrusted";
      readonly nullable: boolean;
    }
  /** `arg:untrusted` pointer to void or a primitive: read-only memory read through probes. */
  | { readonly kind: "untrusted_mem" }
  /** `arg:arena`: an arena pointer or a scalar; an unknown scalar in the callee. */
  | { readonly kind: "arena" };

/**
 * The context struct a pointer argument must name to be a context argument without a tag
 * (the program type's context type in the kernel's bpf_types.h, typedefs resolved). Program
 * types whose context has no struct type (tracepoint, tracing, lsm, ...) are absent.
 */
const CTX_STRUCT: Readonly<Record<string, string>> = {
  socket_filter: "__sk_buff",
  sched_cls: "__sk_buff",
  sched_act: "__sk_buff",
  cgroup_skb: "__sk_buff",
  lwt_in: "__sk_buff",
  lwt_out: "__sk_buff",
  lwt_xmit: "__sk_buff",
  lwt_seg6local: "__sk_buff",
  sk_skb: "__sk_buff",
  flow_dissector: "__sk_buff",
  xdp: "xdp_md",
  cgroup_sock: "bpf_sock",
  cgroup_sock_addr: "bpf_sock_addr",
  sock_ops: "bpf_sock_ops",
  sk_msg: "sk_msg_md",
  kprobe: "pt_regs",
  perf_event: "bpf_perf_event_data",
  raw_tracepoint: "bpf_raw_tracepoint_args",
  raw_tracepoint_writable: "bpf_raw_tracepoint_args",
  cgroup_device: "bpf_cgroup_dev_ctx",
  cgroup_sysctl: "bpf_sysctl",
  cgroup_sockopt: "bpf_sockopt",
  sk_reuseport: "sk_reuseport_md",
  sk_lookup: "bpf_sk_lookup",
  netfilter: "bpf_nf_ctx",
};

/** btf_is_projection_of: the kernel's own structs that stand for the UAPI context. */
const PROJECTIONS: Readonly<Record<string, string>> = { __sk_buff: "sk_buff", xdp_md: "xdp_buff" };

const MODIFIERS: ReadonlySet<string> = new Set(["TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "TYPE_TAG"]);

function skipModifiers(btf: Btf, id: number, stopAtTypedef = false): BtfType {
  let t = btf.typeById(id);
  while (MODIFIERS.has(t.kind) && !(stopAtTypedef && t.kind === "TYPEDEF")) {
    t = btf.typeById((t as { type: number }).type);
  }
  return t;
}

/** btf_is_prog_ctx_type: is the pointee (id) the program type's context? */
function isProgCtxType(btf: Btf, pointee: number, progType: string): boolean {
  if (progType === "kprobe") {
    const t = skipModifiers(btf, pointee, true);
    if (t.kind === "TYPEDEF" && t.name === "bpf_user_pt_regs_t") return true;
  }
  const t = skipModifiers(btf, pointee);
  if (t.kind !== "STRUCT" && t.kind !== "UNION") return false;
  const want = CTX_STRUCT[progType];
  if (!want) return false;
  return t.name === want || PROJECTIONS[want] === t.name;
}

const MODS_BUT_TYPEDEF: ReadonlySet<string> = new Set(["VOLATILE", "CONST", "RESTRICT", "TYPE_TAG"]);

/** btf_is_int(t) && t->size == 8: a `u64 *ctx` context. */
const isU64 = (t: BtfType): boolean => t.kind === "INT" && (t as { size: number }).size === 8;

/**
 * btf_validate_prog_ctx_type for an `arg:ctx` argument: "ok" or the kernel's complaint
 * (`attachType`: the program's expected attach type, for tracing programs).
 */
function validateTaggedCtx(
  btf: Btf,
  pointee: number,
  progType: string,
  k: number,
  attachType: string | undefined,
): string {
  if (progType === "kprobe" || progType === "perf_event") {
    let u = btf.typeById(pointee);
    while (MODS_BUT_TYPEDEF.has(u.kind)) u = btf.typeById((u as { type: number }).type);
    if (u.kind === "TYPEDEF" && u.name === "bpf_user_pt_regs_t") return "ok";
  }
  const t = skipModifiers(btf, pointee);
  if (t.kind === "VOID" || pointee === 0) return "ok"; // `void *ctx __arg_ctx` is always valid
  if (!t.name) return `arg#${k} type doesn't have a name`;
  const isStruct = t.kind === "STRUCT" || t.kind === "UNION";
  // the special cases, then the canonical context type (bpf_ctx_convert)
  let canonical: string | undefined = CTX_STRUCT[progType];
  switch (progType) {
    case "kprobe":
      if (isStruct && t.name === "pt_regs") return "ok";
      canonical = "pt_regs"; // bpf_user_pt_regs_t on x86
      break;
    case "perf_event":
      if (isStruct && t.name === "pt_regs") return "ok";
      break;
    case "raw_tracepoint":
    case "raw_tracepoint_writable":
      if (isU64(t)) return "ok";
      break;
    case "tracing":
      if (attachType === "trace_raw_tp" && ((isStruct && t.name === "bpf_raw_tracepoint_args") || isU64(t)))
        return "ok";
      if (attachType === "trace_iter" && isStruct && t.name.startsWith("bpf_iter__")) return "ok";
      if (["trace_fentry", "trace_fexit", "modify_return"].includes(attachType ?? "") && isU64(t))
        return "ok";
      canonical = undefined; // void *
      break;
    case "lsm":
    case "struct_ops":
      if (isU64(t)) return "ok";
      canonical = undefined; // void *
      break;
    case "tracepoint":
    case "syscall":
    case "ext":
      return "ok"; // anything goes
  }
  if (!canonical) return `arg#${k} should be void pointer`;
  // the tagged type must be the UAPI context struct itself (no kernel-side projection)
  return t.kind === "STRUCT" && t.name === canonical ? "ok" : `arg#${k} should be \`struct ${canonical} *\``;
}

/** The `arg:` decl tags of parameter k of the function with BTF id fnId. */
function argTags(btf: Btf, fnId: number, k: number): string[] {
  const out: string[] = [];
  for (const x of btf.types) {
    if (x.kind === "DECL_TAG" && x.type === fnId && x.componentIdx === k && x.name.startsWith("arg:"))
      out.push(x.name.slice(4));
  }
  return out;
}

/**
 * The arguments of the global function `name` (func_info BTF id `fnId`) for a program of type
 * `progType`; `t` is the instruction to blame for what is not modelled.
 */
export function globalArgs(
  btf: Btf,
  fnId: number,
  progType: string,
  t: number,
  name: string,
  funcIdx: number,
  kernel?: () => Btf,
  attachType?: string,
): GlobalArg[] {
  // the kernel's complaints about the prototype (btf_prepare_func_args) fail the call
  const invalid = (msg: string): VerifyAbort =>
    new VerifyAbort(t, `${msg}\nCaller passes invalid args into func#${funcIdx} ('${name}')`);
  const fn = btf.typeById(fnId);
  if (fn.kind !== "FUNC") throw notModelled(t, `global function ${name}() whose func_info is not a FUNC`);
  const proto = btf.typeById(btf.resolve(fn.type));
  if (proto.kind !== "FUNC_PROTO") throw notModelled(t, `global function ${name}() without a prototype`);
  if (proto.params.length > 5) throw notModelled(t, `global function ${name}() with more than 5 arguments`);
  return proto.params.map((p, k): GlobalArg => {
    const tags = argTags(btf, fnId, k);
    const what = `argument ${k + 1} (${btf.typeString(p.type)}${tags.map((x) => ` arg:${x}`).join("")}) of global function ${name}()`;
    if (tags.some((x) => !KNOWN_TAGS.has(x))) throw invalid(`arg#${k} has unsupported set of tags`);
    const has = (x: string): boolean => tags.includes(x);
    const ty = skipModifiers(btf, p.type);
    if (ty.kind !== "PTR") {
      if (tags.length > 0) throw invalid(`arg#${k} has pointer tag, but is not a pointer type`);
      if (ty.kind === "INT" || ty.kind === "ENUM" || ty.kind === "ENUM64") return { kind: "scalar" };
      throw notModelled(t, what);
    }
    const pointee = (ty as { type: number }).type;
    if (has("ctx") || isProgCtxType(btf, pointee, progType)) {
      if (tags.some((x) => x !== "ctx")) throw invalid(`arg#${k} has invalid combination of tags`);
      if (has("ctx")) {
        const v = validateTaggedCtx(btf, pointee, progType, k, attachType);
        if (v !== "ok") throw invalid(v);
      }
      return { kind: "ctx" };
    }
    const to = skipModifiers(btf, pointee);
    if (to.kind === "STRUCT" && to.name === "bpf_dynptr") {
      if (tags.length > 0) throw invalid(`arg#${k} has invalid combination of tags`);
      return { kind: "dynptr" };
    }
    if (has("trusted")) {
      if (has("nonnull")) throw invalid(`arg#${k} has invalid combination of tags`);
      const target = kernelStruct(btf, pointee, k, t, what, invalid, kernel);
      return { kind: "btf", ...target, trust: "trusted", nullable: has("nullable") };
    }
    if (has("untrusted")) {
      if (tags.some((x) => x !== "untrusted"))
        throw invalid(`arg#${k} untrusted cannot be combined with any other tags`);
      // btf_type_is_primitive: int or (32-bit) enum
      if (pointee === 0 || to.kind === "VOID" || to.kind === "INT" || to.kind === "ENUM")
        return { kind: "untrusted_mem" };
      const target = kernelStruct(btf, pointee, k, t, what, invalid, kernel);
      return { kind: "btf", ...target, trust: "untrusted", nullable: false };
    }
    if (has("arena")) {
      if (tags.some((x) => x !== "arena"))
        throw invalid(`arg#${k} arena cannot be combined with any other tags`);
      return { kind: "arena" };
    }
    if (has("nullable")) throw invalid(`arg#${k} has invalid combination of tags`);
    // btf_resolve_size fails on void: btf_type_str names it UNKNOWN, with an empty name
    if (pointee === 0 || to.kind === "VOID")
      throw invalid(`arg#${k} reference type('UNKNOWN ') size cannot be determined: -22`);
    if (to.kind === "FWD" || to.kind === "FUNC_PROTO") throw notModelled(t, what);
    if (!["INT", "ENUM", "ENUM64", "STRUCT", "UNION", "ARRAY", "FLOAT", "PTR"].includes(to.kind))
      throw notModelled(t, what);
    return { kind: "mem", size: btf.sizeOf(btf.resolve(pointee)), nullable: !has("nonnull") };
  });
}

const KNOWN_TAGS: ReadonlySet<string> = new Set([
  "ctx",
  "trusted",
  "untrusted",
  "nonnull",
  "nullable",
  "arena",
]);

/**
 * btf_get_ptr_to_btf_id: the kernel type a tagged pointer names, found as CO-RE candidates are
 * (same kind, same name without a `___flavour` suffix; exactly one, and a struct for untrusted).
 */
function kernelStruct(
  btf: Btf,
  pointee: number,
  k: number,
  t: number,
  what: string,
  invalid: (msg: string) => VerifyAbort,
  kernel: (() => Btf) | undefined,
): { readonly btfId: number; readonly btfName: string } {
  if (!kernel) throw notModelled(t, what);
  const local = skipModifiers(btf, pointee);
  if (local.kind !== "STRUCT" && local.kind !== "UNION") throw notModelled(t, what);
  const essential = local.name.replace(/___.*$/, "");
  const kb = kernel();
  const cands = kb.findAllByName(essential).filter((id) => kb.typeById(id).kind === local.kind);
  if (cands.length !== 1) {
    const kind = local.kind === "STRUCT" ? "STRUCT" : "UNION";
    if (cands.length === 0) throw invalid(`arg#${k} reference type('${kind} ${local.name}') has no matches`);
    throw notModelled(t, what);
  }
  return { btfId: cands[0]!, btfName: essential };
}

/** The register a global function starts with for one argument (do_check_common). */
export function calleeArgReg(a: GlobalArg, newId: () => number): Reg {
  switch (a.kind) {
    case "scalar":
      return unknownScalar();
    case "ctx":
      return pointer("ctx");
    case "dynptr":
      return constDynptr("local", newId());
    case "mem":
      return pointer("mem", {
        maybeNull: a.nullable,
        memSize: a.size,
        ...(a.nullable ? { id: newId() } : {}),
      });
    case "btf":
      return pointer("btf_id", {
        btfId: a.btfId,
        btfName: a.btfName,
        btfFlag: a.trust,
        maybeNull: a.nullable,
        id: newId(),
      });
    case "untrusted_mem":
      return pointer("mem", { rdonly: true, btfFlag: "untrusted", memSize: 0 });
    case "arena":
      return unknownScalar();
  }
}

const MEM_TYPES: ReadonlySet<string> = new Set(["stack", "pkt", "pkt_meta", "map_key", "map_value", "mem"]);

/** __check_ptr_off_reg for pointer types whose offset must stay zero (check_func_arg_reg_off). */
function checkPtrOffZero(t: number, regno: number, reg: Reg): void {
  if (MEM_TYPES.has(reg.type) || reg.type === "scalar" || reg.type === "not_init") return;
  const tstr = regTypeStr(reg);
  if (reg.off < 0)
    throw new VerifyAbort(t, `negative offset ${tstr} ptr R${regno} off=${reg.off} disallowed`);
  if (reg.off !== 0)
    throw new VerifyAbort(t, `dereference of modified ${tstr} ptr R${regno} off=${reg.off} disallowed`);
}

/**
 * btf_check_func_arg_match: the caller's R1-R5 against the callee's arguments. A mismatch is
 * reported in the kernel's words followed by "Caller passes invalid args into func#N ('name')".
 */
export function checkGlobalCall(
  env: MemEnv,
  st: VState,
  t: number,
  args: readonly GlobalArg[],
  funcIdx: number,
  name: string,
  kernel?: () => Btf,
): void {
  const regs = st.frames[st.frames.length - 1]!.regs;
  try {
    args.forEach((a, k) => {
      const regno = k + 1;
      const reg = regs[regno]!;
      if (a.kind === "scalar") {
        if (reg.type !== "scalar") throw new VerifyAbort(t, `R${regno} is not a scalar`);
        return;
      }
      if (a.kind === "untrusted_mem" || (a.kind === "btf" && a.trust === "untrusted")) return;
      if (a.kind === "arena") {
        if (reg.type !== "scalar") throw new VerifyAbort(t, `R${regno} is not a pointer to arena or scalar.`);
        return;
      }
      if (a.kind === "btf") {
        trustedBtfArg(t, regno, reg, a, kernel);
        return;
      }
      if (a.kind === "dynptr") {
        // process_dynptr_func for a read-only dynptr (no register type check before it here)
        if (reg.type !== "stack" && reg.type !== "dynptr_ptr")
          throw new VerifyAbort(t, `arg#${k} expected pointer to stack or const struct bpf_dynptr`);
        const none = (): never => {
          throw notModelled(t, "a dynptr built by a global function call");
        };
        dynptrArg({ newId: none, writeStack: none }, st, t, regno, ["MEM_RDONLY"]);
        return;
      }
      checkPtrOffZero(t, regno, reg);
      if (a.kind === "ctx") {
        if (reg.type !== "ctx") throw new VerifyAbort(t, `arg#${k} expects pointer to ctx`);
        return;
      }
      // check_mem_reg: NULL passes; a maybe-NULL pointer is checked as if it were not NULL
      if (reg.type === "scalar" && isConst(reg) && reg.varOff.value === 0n) return;
      if (!MEM_TYPES.has(reg.type)) throw new VerifyAbort(t, `R${regno} type=${regTypeStr(reg)} expected=fp`);
      const saved = copyReg(reg);
      reg.maybeNull = false;
      try {
        checkHelperMem(env, st, t, regno, a.size, a.size, false, false, name);
        checkHelperMem(env, st, t, regno, a.size, a.size, true, false, name);
      } finally {
        regs[regno] = saved;
      }
      if (!a.nullable && saved.maybeNull) throw new VerifyAbort(t, `arg#${k} is expected to be non-NULL`);
    });
  } catch (e) {
    if (!(e instanceof VerifyAbort) || !e.kernelWording) throw e;
    throw new VerifyAbort(
      e.insn,
      `${e.message}\nCaller passes invalid args into func#${funcIdx} ('${name}')`,
    );
  }
}

/**
 * btf_check_func_arg_match for an `arg:trusted` argument: check_reg_type against btf_ptr_types
 * (NULL passes where `arg:nullable`), btf_struct_ids_match, check_func_arg_reg_off.
 */
function trustedBtfArg(
  t: number,
  regno: number,
  reg: Reg,
  a: Extract<GlobalArg, { kind: "btf" }>,
  kernel: (() => Btf) | undefined,
): void {
  if (a.nullable && reg.type === "scalar" && isConst(reg) && reg.varOff.value === 0n) return;
  const okType =
    reg.type === "btf_id" &&
    (reg.btfFlag === undefined || reg.btfFlag === "trusted" || reg.btfFlag === "rcu") &&
    (!reg.maybeNull || a.nullable);
  if (!okType)
    throw new VerifyAbort(t, `R${regno} type=${regTypeStr(reg)} expected=ptr_, trusted_ptr_, rcu_ptr_`);
  if (!kernel || reg.btfId === undefined) throw notModelled(t, "a trusted global function argument");
  const log: string[] = [];
  if (!structIdsMatch(kernel(), reg.btfId, reg.off, a.btfId, log)) {
    const why = [...log, `R${regno} is of type ${reg.btfName} but ${a.btfName} is expected`];
    throw new VerifyAbort(t, why.join("\n"));
  }
  if (!isConst(reg) || reg.varOff.value !== 0n) throw notModelled(t, "a BTF pointer with a variable offset");
}

/**
 * The subprogram's changes_pkt_data (check_cfg: mark_subprog_changes_pkt_data and
 * merge_callee_effects): it, or a subprogram it calls, calls a helper or kfunc that may change
 * packet data (`changes`). A call of such a global function invalidates the caller's packet
 * pointers (check_func_call: clear_all_pkt_pointers).
 */
export function changesPktData(
  code: readonly (Instruction | undefined)[],
  subprogs: readonly number[],
  start: number,
  changes: (i: Instruction) => boolean,
  seen: Set<number> = new Set(),
): boolean {
  if (seen.has(start)) return false;
  seen.add(start);
  const end = subprogs.find((s) => s > start) ?? code.length;
  for (let t = start; t < end; t++) {
    const i = code[t];
    if (i?.opcode !== 0x85) continue;
    if (i.src === 1 && changesPktData(code, subprogs, t + i.imm + 1, changes, seen)) return true;
    if (i.src !== 1 && changes(i)) return true;
  }
  return false;
}
