/**
 * Calls of kernel functions (BPF_PSEUDO_KFUNC_CALL; the kernel's check_kfunc_call and
 * check_kfunc_args): the prototype comes from the kernel BTF FUNC named by the object's ksym
 * extern, the flags and the program types allowed from src/abi/kfuncs.ts. Modelled: scalar
 * arguments and PTR_TO_BTF_ID struct arguments (trust, NULL, type and reference checks),
 * acquire/release through the verifier's reference list, KF_RET_NULL, KF_SLEEPABLE, and the
 * bpf_rcu_read_lock/unlock region. Anything else is refused as not modelled.
 */

import { type Kfunc, kfuncAllowed, kfuncByName } from "../abi/kfuncs.js";
import type { Btf } from "../elf/btf/btf.js";
import type { Instruction } from "../isa/instruction.js";
import { kindName, skipMods } from "./btf-ctx.js";
import { notModelled, VerifyAbort } from "./errors.js";
import { activeIrq } from "./irq-flag.js";
import { acquireRef, releaseRef as releaseRefState } from "./refs.js";
import { isConst } from "./scalar.js";
import {
  copyReg,
  forEachReg,
  notInit,
  pointer,
  type Reg,
  regTypeStr,
  unknownScalar,
  type VState,
} from "./state.js";

export interface KfuncEnv {
  readonly progType: string;
  readonly sleepable: boolean;
  readonly kernelBtf: () => Btf;
  /** Ksym externs of the object: name -> weak. */
  readonly externWeak: (name: string) => boolean | undefined;
  newId(): number;
}

const has = (f: Kfunc, flag: Kfunc["flags"][number]): boolean => f.flags.includes(flag);

/** is_trusted_reg: referenced, or PTR_TRUSTED without unsafe modifiers. */
const isTrusted = (r: Reg): boolean => r.refObjId !== 0 || (r.btfFlag === "trusted" && !r.maybeNull);

/** One kfunc call at insn `t`; leaves R0 as the kernel would and clobbers R1-R5. */
export function kfuncCall(env: KfuncEnv, st: VState, t: number, i: Instruction): void {
  const name = i.ref?.kind === "extern" ? i.ref.symbol : undefined;
  if (!name) throw notModelled(t, "a kfunc call without its ksym extern");
  const weak = env.externWeak(name);
  if (weak === undefined) throw notModelled(t, `kfunc ${name} without an extern declaration`);
  const btf = env.kernelBtf();
  const fn = btf.findByName(name, "FUNC");
  if (!fn) {
    if (weak) throw notModelled(t, `a call of the missing weak kfunc ${name}`);
    throw new VerifyAbort(t, `extern (kfunc) '${name}': not found in kernel BTF`);
  }
  const kf = kfuncByName(name);
  if (!kf) throw notModelled(t, `kfunc ${name}`);
  const allowed = kfuncAllowed(kf, env.progType);
  if (allowed === undefined) throw notModelled(t, `kfunc ${name} in ${env.progType} programs`);
  if (!allowed) throw new VerifyAbort(t, `calling kernel function ${name} is not allowed`);
  if (has(kf, "KF_DESTRUCTIVE")) throw notModelled(t, "destructive kfuncs");
  if (has(kf, "KF_SLEEPABLE") && !env.sleepable) {
    throw new VerifyAbort(t, `program must be sleepable to call sleepable kfunc ${name}`);
  }
  const proto = btf.typeById((fn as { type: number }).type);
  if (proto.kind !== "FUNC_PROTO") throw notModelled(t, `kfunc ${name} without a prototype`);
  if (proto.params.length > 5) throw notModelled(t, `kfunc ${name} with more than 5 arguments`);
  const regs = st.frames[st.frames.length - 1]!.regs;
  let releaseRef = 0;
  proto.params.forEach((p, k) => {
    const regno = k + 1;
    const reg = regs[regno]!;
    if (reg.type === "not_init") throw new VerifyAbort(t, `R${regno} !read_ok`);
    const pt = skipMods(btf, p.type).t;
    if (p.name.endsWith("__ign")) return;
    if (pt.kind === "INT" || pt.kind === "ENUM" || pt.kind === "ENUM64") {
      if (reg.type !== "scalar") throw new VerifyAbort(t, `R${regno} is not a scalar`);
      if (p.name.endsWith("__k") || p.name.endsWith("__szk") || p.name.endsWith("__sz"))
        throw notModelled(t, `constant/size kfunc arguments (${name} ${p.name})`);
      return;
    }
    if (pt.kind !== "PTR") throw new VerifyAbort(t, `Unrecognized arg#${k} type ${kindName(pt)}`);
    const isNull = reg.type === "scalar" && isConst(reg) && reg.varOff.value === 0n;
    if ((isNull || reg.maybeNull) && !p.name.endsWith("__nullable")) {
      throw new VerifyAbort(t, `Possibly NULL pointer passed to trusted arg${k}`);
    }
    const ref = skipMods(btf, pt.type);
    if (
      (ref.t.kind !== "STRUCT" && ref.t.kind !== "UNION") ||
      reg.type !== "btf_id" ||
      p.name.endsWith("__nullable")
    ) {
      throw notModelled(
        t,
        `kfunc ${name} argument ${k} (${btf.typeString(p.type)}) given ${regTypeStr(reg)}`,
      );
    }
    if (reg.btfFlag === "percpu") throw notModelled(t, `kfunc ${name} given a per-CPU pointer`);
    if (!isTrusted(reg)) {
      if (!has(kf, "KF_RCU")) throw new VerifyAbort(t, `R${regno} must be referenced or trusted`);
      if (reg.btfFlag !== "rcu") throw new VerifyAbort(t, `R${regno} must be a rcu pointer`);
    }
    const release = has(kf, "KF_RELEASE") && reg.refObjId !== 0;
    const offset = reg.off !== 0 || !isConst(reg) || reg.varOff.value !== 0n;
    if (offset && release) {
      throw new VerifyAbort(
        t,
        `R${regno} must have zero offset when passed to release func or trusted arg to kfunc`,
      );
    }
    // elsewhere a fixed offset may point at an embedded struct (btf_struct_ids_match): not modelled
    if (offset) throw notModelled(t, `kfunc ${name} given a BTF pointer with an offset`);
    if (reg.btfName !== ref.t.name)
      throw notModelled(t, `kfunc ${name} argument ${k} of another struct type`);
    if (release) releaseRef = reg.refObjId;
  });
  if (has(kf, "KF_RELEASE") && !releaseRef) {
    throw new VerifyAbort(t, `release kernel function ${name} expects refcounted PTR_TO_BTF_ID`);
  }
  // the bpf_rcu_read_lock region
  const rcuLock = name === "bpf_rcu_read_lock";
  const rcuUnlock = name === "bpf_rcu_read_unlock";
  if (st.rcuLocks) {
    if (rcuLock) throw new VerifyAbort(t, `nested rcu read lock (kernel function ${name})`);
    if (rcuUnlock) {
      forEachReg(st, (r, set) => {
        if (r.type === "btf_id" && r.btfFlag === "rcu")
          set(Object.assign(copyReg(r), { btfFlag: "untrusted" as const, maybeNull: false }));
      });
      delete st.rcuLocks;
    } else if (has(kf, "KF_SLEEPABLE")) {
      throw new VerifyAbort(t, `kernel func ${name} is sleepable within rcu_read_lock region`);
    }
  } else if (rcuLock) st.rcuLocks = 1;
  else if (rcuUnlock) throw new VerifyAbort(t, `unmatched rcu read unlock (kernel function ${name})`);
  if (has(kf, "KF_SLEEPABLE") && activeIrq(st))
    throw new VerifyAbort(t, `kernel func ${name} is sleepable within IRQ-disabled region`);
  // the argument's reference was checked above: it is held
  if (releaseRef) releaseRefState(st, releaseRef);
  for (let r = 0; r <= 5; r++) regs[r] = notInit();
  const ret = skipMods(btf, proto.returnType);
  if (has(kf, "KF_ACQUIRE") && !(ret.t.kind === "PTR" && isStructPtr(btf, ret.t.type))) {
    throw new VerifyAbort(t, "acquire kernel function does not return PTR_TO_BTF_ID");
  }
  if (ret.t.kind === "VOID") return;
  if (ret.t.kind === "INT" || ret.t.kind === "ENUM" || ret.t.kind === "ENUM64") {
    regs[0] = unknownScalar();
    return;
  }
  if (ret.t.kind !== "PTR" || !isStructPtr(btf, ret.t.type))
    throw notModelled(t, `the return type of kfunc ${name}`);
  const pointee = skipMods(btf, ret.t.type);
  const r0 = pointer("btf_id", { btfId: pointee.id, btfName: pointee.t.name });
  if (has(kf, "KF_RCU_PROTECTED")) throw notModelled(t, "KF_RCU_PROTECTED kfuncs");
  if (has(kf, "KF_RET_NULL")) {
    r0.maybeNull = true;
    r0.id = env.newId();
  }
  if (has(kf, "KF_ACQUIRE")) {
    const id = env.newId();
    acquireRef(st, id, t);
    if (r0.maybeNull) r0.id = id;
    r0.refObjId = id;
  }
  regs[0] = r0;
}

function isStructPtr(btf: Btf, id: number): boolean {
  const t = skipMods(btf, id).t;
  return t.kind === "STRUCT" || t.kind === "UNION";
}
