/**
 * Loads and stores through PTR_TO_BTF_ID registers (the kernel's check_ptr_to_btf_access,
 * btf_struct_access and btf_struct_walk): reads of scalar members give scalars, reads of
 * pointer-to-struct members give PTR_TO_BTF_ID of the pointee with the trust the kernel derives;
 * writes, negative and variable offsets, and accesses off the struct are refused in the kernel's
 * words. BTF pointers may be NULL at run time but their loads are PROBE_MEM (fault-safe), so no
 * NULL check is needed unless the register is marked maybe-NULL.
 */

import { BTF_FIELD_TRUST, BTF_FIELD_TRUST_UNSURE } from "../abi/btf-trust.js";
import type { Btf } from "../elf/btf/btf.js";
import type { BtfComposite, BtfType } from "../elf/btf/types.js";
import { skipMods } from "./btf-ctx.js";
import { notModelled, VerifyAbort } from "./errors.js";
import { isConst, truncate } from "./scalar.js";
import { type BtfPtrFlag, pointer, type Reg, unknownScalar } from "./state.js";
import { tnumStr } from "./tnum.js";

export interface BtfAccessEnv {
  readonly gpl: boolean;
  /** in_rcu_cs: inside bpf_rcu_read_lock, or a non-sleepable program. */
  readonly inRcu: boolean;
  /** A fresh register id (maybe-NULL results get one, for their NULL check). */
  readonly newId: () => number;
}

type Walk =
  | { readonly kind: "scalar" }
  | { readonly kind: "ptr"; readonly id: number; readonly field: string; readonly untrusted: boolean }
  | { readonly kind: "ptr_untrusted_mem" }
  | { readonly kind: "struct"; readonly id: number; readonly untrusted: boolean };

interface Resolved {
  /** The member's type after modifiers (the outer array for arrays). */
  readonly t: BtfType;
  readonly size: number;
  readonly elemId: number;
  readonly elem: BtfType;
  readonly nelems: number;
}

/** __btf_resolve_size: modifiers skipped, arrays linearised to their innermost element. */
function resolveSize(btf: Btf, id: number): Resolved | undefined {
  const first = skipMods(btf, id);
  let cur = first;
  let nelems = 1;
  while (cur.t.kind === "ARRAY") {
    nelems *= cur.t.nelems;
    cur = skipMods(btf, cur.t.type);
  }
  let elemSize: number;
  try {
    elemSize = cur.t.kind === "PTR" ? 8 : btf.sizeOf(cur.id);
  } catch {
    return undefined;
  }
  return {
    t: first.t,
    size: elemSize * nelems,
    elemId: cur.id,
    elem: cur.t,
    nelems: first.t.kind === "ARRAY" ? nelems : 1,
  };
}

const isStruct = (t: BtfType): t is BtfComposite => t.kind === "STRUCT" || t.kind === "UNION";

/** btf_struct_walk: what the `size` bytes at `off` of type `typeId` are. Throws the kernel's words. */
function walk(btf: Btf, insn: number, typeId: number, off0: number, size: number, untrusted0: boolean): Walk {
  let off = off0;
  let untrusted = untrusted0;
  let t = skipMods(btf, typeId).t;
  for (let depth = 0; depth < 64; depth++) {
    const tname = t.name;
    if (!isStruct(t)) throw new VerifyAbort(insn, `Type '${tname}' is not a struct`);
    const members = t.members;
    if (t.kind === "UNION" && members.length !== 1) untrusted = true;
    if (off + size > t.size) {
      const last = members[members.length - 1];
      const lastT = last ? skipMods(btf, last.type).t : undefined;
      const moff = last ? Math.floor(last.bitOffset / 8) : 0;
      if (!last || lastT?.kind !== "ARRAY" || lastT.nelems !== 0 || off < moff) {
        throw new VerifyAbort(insn, `access beyond struct ${tname} at off ${off} size ${size}`);
      }
      const el = skipMods(btf, lastT.type).t;
      if (el.kind === "INT") return { kind: "scalar" };
      if (!isStruct(el))
        throw new VerifyAbort(insn, `access beyond struct ${tname} at off ${off} size ${size}`);
      off = (off - moff) % el.size;
      t = el;
      continue;
    }
    let next: BtfType | undefined;
    for (const m of members) {
      let moff = Math.floor(m.bitOffset / 8);
      if (off + size <= moff) break;
      if (m.bitfieldSize) {
        const endBit = m.bitOffset + m.bitfieldSize;
        if (off <= moff && Math.ceil(endBit / 8) <= off + size) return { kind: "scalar" };
        continue;
      }
      if (off < moff) break;
      const r = resolveSize(btf, m.type);
      if (!r) throw new VerifyAbort(insn, `field ${m.name} doesn't have size`);
      const trueEnd = moff + r.size;
      if (off >= trueEnd) continue;
      let mtype = r.t;
      let mid = skipMods(btf, m.type).id;
      let msize = r.size;
      if (mtype.kind === "ARRAY") {
        if (moff === trueEnd) continue;
        msize = r.size / r.nelems;
        const idx = Math.floor((off - moff) / msize);
        moff += idx * msize;
        mtype = r.elem;
        mid = r.elemId;
      }
      if (isStruct(mtype)) {
        if (off === moff) return { kind: "struct", id: mid, untrusted };
        off -= moff;
        next = mtype;
        break;
      }
      if (mtype.kind === "PTR") {
        if (msize !== size || off !== moff) {
          throw new VerifyAbort(
            insn,
            `cannot access ptr member ${m.name} with moff ${moff} in struct ${tname} with off ${off} size ${size}`,
          );
        }
        const target = skipMods(btf, mtype.type);
        if (isStruct(target.t)) return { kind: "ptr", id: target.id, field: m.name, untrusted };
        return { kind: "ptr_untrusted_mem" };
      }
      if (off + size > trueEnd && !untrusted) {
        throw new VerifyAbort(
          insn,
          `access beyond the end of member ${m.name} (mend:${trueEnd}) in struct ${tname} with off ${off} size ${size}`,
        );
      }
      return { kind: "scalar" };
    }
    if (next) {
      t = next;
      continue;
    }
    throw new VerifyAbort(insn, `struct ${tname} doesn't have field at offset ${off}`);
  }
  throw notModelled(insn, "BTF struct nesting deeper than 64");
}

/**
 * One load or store through the PTR_TO_BTF_ID in `regno` at insn offset `off`; a load returns
 * the register it gives.
 */
export function btfPtrAccess(
  env: BtfAccessEnv,
  btf: Btf,
  insn: number,
  regno: number,
  reg: Reg,
  insnOff: number,
  size: number,
  write: boolean,
): Reg | undefined {
  const tname = reg.btfName ?? "";
  const off = reg.off + insnOff;
  if (!env.gpl)
    throw new VerifyAbort(insn, `Cannot access kernel 'struct ${tname}' from non-GPL compatible program`);
  if (off < 0) throw new VerifyAbort(insn, `R${regno} is ptr_${tname} invalid negative access: off=${off}`);
  if (!isConst(reg) || reg.varOff.value !== 0n) {
    throw new VerifyAbort(
      insn,
      `R${regno} is ptr_${tname} invalid variable offset: off=${off}, var_off=${tnumStr(reg.varOff)}`,
    );
  }
  if (reg.btfFlag === "percpu")
    throw new VerifyAbort(insn, `R${regno} is ptr_${tname} access percpu memory: off=${off}`);
  if (write) throw new VerifyAbort(insn, "only read is supported");
  if (reg.btfId === undefined) throw notModelled(insn, "a BTF pointer without a type");
  // btf_struct_access: walk until a scalar or a pointer, diving into nested structs
  let id = reg.btfId;
  let o = off;
  let untrusted = reg.btfFlag === "untrusted";
  for (let n = 0; n < 64; n++) {
    const w = walk(btf, insn, id, o, size, untrusted);
    if (w.kind === "scalar") {
      const r = unknownScalar();
      if (size < 8) truncate(r, size);
      return r;
    }
    if (w.kind === "ptr_untrusted_mem") throw notModelled(insn, "loads of BTF pointers to non-struct memory");
    if (w.kind === "struct") {
      id = w.id;
      o = 0;
      untrusted = w.untrusted;
      continue;
    }
    // a pointer to a struct: its trust follows check_ptr_to_btf_access
    const parent = skipMods(btf, reg.btfId).t.name;
    let flag: BtfPtrFlag | undefined;
    let maybeNull = false;
    if (reg.btfFlag === "untrusted" || w.untrusted) flag = "untrusted";
    else if (reg.refObjId || reg.btfFlag === "trusted" || reg.btfFlag === "rcu") {
      // the allow lists are keyed by the register's own struct (btf_nested_type_is_trusted)
      const key = `${parent}.${w.field}`;
      if (BTF_FIELD_TRUST_UNSURE.has(key)) throw notModelled(insn, `the trust of ${key} pointers`);
      const cls = BTF_FIELD_TRUST.get(key);
      if (cls === "trusted") flag = "trusted";
      else if (cls === "trusted_or_null") {
        flag = "trusted";
        maybeNull = true;
      } else if (env.inRcu && !reg.maybeNull) {
        if (cls === "rcu") flag = "rcu";
        else if (cls === "rcu_or_null") {
          flag = "rcu";
          maybeNull = true;
        } else flag = undefined;
      } else flag = "untrusted";
    }
    const target = btf.typeById(w.id);
    return pointer("btf_id", {
      btfId: w.id,
      btfName: target.name,
      ...(flag ? { btfFlag: flag } : {}),
      maybeNull,
      ...(maybeNull ? { id: env.newId() } : {}),
    });
  }
  throw notModelled(insn, "BTF struct nesting deeper than 64");
}

/**
 * btf_struct_ids_match (not strict): the struct at `off` of `id`, descending through members that
 * start there, is `want`. Walk errors only mean "no match" here.
 */
export function structIdsMatch(btf: Btf, id: number, off: number, want: number, log?: string[]): boolean {
  const same = (a: number): boolean => skipMods(btf, a).id === skipMods(btf, want).id;
  if (off === 0 && same(id)) return true;
  let cur = id;
  let o = off;
  for (let n = 0; n < 64; n++) {
    let w: Walk;
    try {
      w = walk(btf, 0, cur, o, 1, false);
    } catch (e) {
      // btf_struct_walk logs why it stopped before btf_struct_ids_match answers no
      if (e instanceof VerifyAbort) {
        log?.push(e.message);
        return false;
      }
      throw e;
    }
    if (w.kind !== "struct") return false;
    if (same(w.id)) return true;
    cur = w.id;
    o = 0;
  }
  return false;
}
