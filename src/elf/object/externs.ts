/**
 * Externs (libbpf's bpf_object__collect_externs): undefined global/weak symbols whose BTF VAR or
 * FUNC sits in the `.kconfig` DATASEC (kconfig values, laid out in the `.kconfig` map) or in
 * `.ksyms` (kernel variables and kfuncs). kconfig externs are laid out as libbpf does: sorted by
 * alignment (largest first), then size (smallest first), then name; each at the next aligned
 * offset.
 */
import type { Btf } from "../btf/btf.js";
import { ELF } from "../types.js";
import { isExternSymbol, OBJECT_ERROR, type ObjectContext, objError } from "./context.js";
import type { ExternSpec } from "./types.js";

const EXTERN_LINKAGE = 2;

function datasecOf(btf: Btf, id: number): string | undefined {
  for (const t of btf.types) {
    if (t.kind === "DATASEC" && t.vars.some((v) => v.type === id)) return t.name;
  }
  return undefined;
}

export interface ExternLayout {
  readonly externs: readonly ExternSpec[];
  /** Bytes the `.kconfig` map needs (0 when there are no kconfig externs). */
  readonly kconfigSize: number;
}

export function collectExterns(ctx: ObjectContext): ExternLayout {
  const syms = ctx.elf.symbols.filter(isExternSymbol);
  if (syms.length === 0) return { externs: [], kconfigSize: 0 };
  const btf = ctx.btf;
  if (!btf) {
    throw objError(
      ctx,
      OBJECT_ERROR.NO_BTF,
      `extern '${syms[0]!.name}' needs BTF, but the object has no .BTF section: compile with -g`,
    );
  }
  type Draft = { -readonly [K in keyof ExternSpec]: ExternSpec[K] } & { align: number };
  const drafts: Draft[] = [];
  for (const sym of syms) {
    const id = [...btf.findAllByName(sym.name)].find((i) => {
      const t = btf.typeById(i);
      return (t.kind === "VAR" || t.kind === "FUNC") && t.linkage === EXTERN_LINKAGE;
    });
    if (id === undefined)
      throw objError(ctx, OBJECT_ERROR.EXTERN, `failed to find BTF for extern '${sym.name}'`);
    const t = btf.typeById(id);
    const isFunction = t.kind === "FUNC";
    const sec = datasecOf(btf, id) ?? (isFunction ? ".ksyms" : undefined);
    const weak = sym.bind === ELF.STB_WEAK;
    const typeId = (t as { type: number }).type;
    if (sec === ".kconfig") {
      if (isFunction) throw objError(ctx, OBJECT_ERROR.EXTERN, `extern (kcfg) '${sym.name}' is a function`);
      let size: number;
      let align: number;
      try {
        size = btf.sizeOf(typeId);
        align = btf.alignOf(typeId);
      } catch {
        throw objError(ctx, OBJECT_ERROR.EXTERN, `extern (kcfg) '${sym.name}': type [${typeId}] has no size`);
      }
      drafts.push({
        name: sym.name,
        kind: "kconfig",
        isFunction,
        weak,
        btfId: id,
        btfTypeId: typeId,
        offset: -1,
        size,
        align,
      });
    } else if (sec === ".ksyms") {
      let size = 0;
      if (!isFunction && btf.resolve(typeId) !== 0) {
        try {
          size = btf.sizeOf(typeId);
        } catch {
          size = 0;
        }
      }
      drafts.push({
        name: sym.name,
        kind: "ksym",
        isFunction,
        weak,
        btfId: id,
        btfTypeId: typeId,
        offset: -1,
        size,
        align: 0,
      });
    } else {
      throw objError(
        ctx,
        OBJECT_ERROR.EXTERN,
        `extern '${sym.name}' is in unsupported section '${sec ?? "(none)"}' (only .kconfig and .ksyms)`,
      );
    }
  }
  drafts.sort((a, b) => {
    if (a.kind !== b.kind) return a.kind === "kconfig" ? -1 : 1;
    if (a.kind === "kconfig") {
      if (a.align !== b.align) return b.align - a.align;
      if (a.size !== b.size) return a.size - b.size;
    }
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  let off = 0;
  for (const d of drafts) {
    if (d.kind !== "kconfig") continue;
    d.offset = Math.ceil(off / d.align) * d.align;
    off = d.offset + d.size;
  }
  return {
    externs: drafts.map(({ align: _a, ...e }) => e),
    kconfigSize: off,
  };
}
