/**
 * `tsbpf inspect <obj...> [--format text|json]`: what an object holds, as the object model sees
 * it (programs with their types and linked sizes, maps, externs, globals, BTF.ext counts and the
 * CO-RE relocation list). Type names are bpftool's; one JSON object per file, an array for several.
 */
import type { Command } from "commander";
import { openObject } from "../../elf/object/open.js";
import type { MapSpec, ObjectSpec } from "../../elf/object/types.js";
import { UsageError } from "../../errors.js";
import { insnWidth } from "../../isa/instruction.js";
import type { CliIo } from "../io.js";

function typeName(obj: ObjectSpec, id: number): string | null {
  if (!obj.btf || id === 0) return null;
  try {
    return obj.btf.typeString(id);
  } catch {
    return `[${id}]`;
  }
}

function mapJson(obj: ObjectSpec, m: MapSpec): Record<string, unknown> {
  return {
    name: m.name,
    origin: m.origin,
    section: m.section,
    type: m.typeName,
    typeId: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    keyType: typeName(obj, m.btfKeyTypeId),
    valueType: typeName(obj, m.btfValueTypeId),
    maxEntries: m.maxEntries,
    flags: m.flags,
    ...(m.numaNode ? { numaNode: m.numaNode } : {}),
    ...(m.pinning ? { pinning: m.pinning } : {}),
    ...(m.mapExtra ? { mapExtra: m.mapExtra.toString() } : {}),
    initialDataSize: m.data?.length ?? 0,
    readonly: m.readonly,
    ...(m.inner ? { inner: mapJson(obj, m.inner) } : {}),
    ...(m.initSlots ? { initSlots: m.initSlots } : {}),
  };
}

/** The JSON description of one object (plain data, no bigints). */
export function inspectJson(obj: ObjectSpec): Record<string, unknown> {
  const ext = obj.btfExt;
  const sections = new Set<string>();
  for (const list of [ext?.funcInfo, ext?.lineInfo, ext?.coreRelos])
    for (const s of list ?? []) sections.add(s.section);
  return {
    file: obj.file ?? null,
    name: obj.name,
    byteOrder: obj.byteOrder,
    license: obj.license,
    kernelVersion: obj.kernelVersion,
    programs: obj.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: p.type.name,
      attachType: p.expectedAttachType?.name ?? null,
      attachTarget: p.attachTarget ?? null,
      sleepable: p.sleepable,
      autoload: p.autoload,
      insns: p.insns.reduce((n, i) => n + insnWidth(i), 0),
      mainInsns: p.mainSlots,
      subprogs: p.subprogs.map((s) => s.name),
      funcInfo: p.funcInfo.length,
      lineInfo: p.lineInfo.length,
      coreRelos: p.coreRelos.length,
    })),
    maps: obj.maps.map((m) => mapJson(obj, m)),
    externs: obj.externs.map((e) => ({
      name: e.name,
      kind: e.kind,
      function: e.isFunction,
      weak: e.weak,
      type: typeName(obj, e.btfTypeId),
      ...(e.kind === "kconfig" ? { offset: e.offset, size: e.size } : {}),
    })),
    variables: obj.variables.map((v) => ({
      name: v.name,
      map: v.map,
      offset: v.offset,
      size: v.size,
      type: typeName(obj, v.btfTypeId),
      global: v.global,
      readonly: v.readonly,
    })),
    btfExt: ext
      ? [...sections].map((s) => ({
          section: s,
          funcInfo: ext.funcInfoFor(s).length,
          lineInfo: ext.lineInfoFor(s).length,
          coreRelos: ext.coreRelosFor(s).length,
        }))
      : null,
    coreRelocations: ext
      ? ext.coreRelos.flatMap((s) =>
          s.records.map((r) => ({
            section: s.section,
            insn: r.insn,
            kind: r.kind,
            typeId: r.typeId,
            type: typeName(obj, r.typeId),
            access: r.access,
          })),
        )
      : [],
  };
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** A readable listing of one object. */
export function inspectText(obj: ObjectSpec): string {
  const j = inspectJson(obj) as ReturnType<typeof inspectJson> & Record<string, never>;
  const out: string[] = [];
  out.push(
    `${obj.file ?? obj.name}: ${obj.byteOrder === "le" ? "little" : "big"}-endian, license "${obj.license}"${obj.kernelVersion ? `, version ${hex(obj.kernelVersion)}` : ""}`,
  );
  out.push(`programs (${obj.programs.length}):`);
  for (const p of (j.programs as Record<string, unknown>[]) ?? []) {
    const parts = [`  ${p.name}`, `section '${p.section}'`, `type ${p.type}`];
    if (p.attachType) parts.push(`attach ${p.attachType}`);
    if (p.attachTarget) parts.push(`target ${p.attachTarget}`);
    parts.push(`${p.insns} insns`);
    const subs = p.subprogs as string[];
    if (subs.length) parts.push(`(${p.mainInsns} + subprogs ${subs.join(", ")})`);
    if (p.sleepable) parts.push("sleepable");
    if (!p.autoload) parts.push("no autoload");
    out.push(parts.join("  "));
  }
  out.push(`maps (${obj.maps.length}):`);
  for (const m of (j.maps as Record<string, unknown>[]) ?? []) {
    const kv = `key ${m.keySize}${m.keyType ? ` (${m.keyType})` : ""}  value ${m.valueSize}${m.valueType ? ` (${m.valueType})` : ""}`;
    const extra = [`max_entries ${m.maxEntries}`, `flags ${hex(m.flags as number)}`];
    if ((m.initialDataSize as number) > 0) extra.push(`data ${m.initialDataSize} bytes`);
    if (m.inner) extra.push(`inner ${(m.inner as Record<string, unknown>).type}`);
    if (m.initSlots)
      extra.push(
        `slots ${(m.initSlots as { index: number; name: string }[]).map((s) => `[${s.index}]=${s.name}`).join(" ")}`,
      );
    out.push(`  ${m.name}  ${m.type}  ${kv}  ${extra.join("  ")}`);
  }
  if (obj.externs.length) {
    out.push(`externs (${obj.externs.length}):`);
    for (const e of obj.externs) {
      out.push(
        `  ${e.name}  ${e.kind}${e.isFunction ? " function" : ""}${e.weak ? " weak" : ""}${e.kind === "kconfig" ? `  offset ${e.offset} size ${e.size}` : ""}`,
      );
    }
  }
  if (obj.variables.length) {
    out.push(`variables (${obj.variables.length}):`);
    for (const v of obj.variables) {
      const t = typeName(obj, v.btfTypeId);
      out.push(
        `  ${v.name}  ${v.map}+${v.offset}  size ${v.size}${t ? `  ${t}` : ""}${v.readonly ? "  readonly" : ""}`,
      );
    }
  }
  const ext = j.btfExt as { section: string; funcInfo: number; lineInfo: number; coreRelos: number }[] | null;
  if (ext) {
    out.push("BTF.ext:");
    for (const s of ext)
      out.push(`  ${s.section}: func_info ${s.funcInfo}, line_info ${s.lineInfo}, CO-RE ${s.coreRelos}`);
  } else out.push("BTF.ext: none");
  const core = j.coreRelocations as {
    section: string;
    insn: number;
    kind: string;
    typeId: number;
    type: string | null;
    access: string;
  }[];
  if (core.length) {
    out.push(`CO-RE relocations (${core.length}):`);
    for (const r of core)
      out.push(`  ${r.section} insn ${r.insn}: <${r.kind}> [${r.typeId}] ${r.type ?? ""} ${r.access}`);
  }
  return `${out.join("\n")}\n`;
}

export async function runInspect(
  files: readonly string[],
  io: CliIo,
  opts: { format?: string } = {},
): Promise<void> {
  const format = opts.format ?? "text";
  if (format !== "text" && format !== "json")
    throw new UsageError("E_USAGE", `unknown format '${format}' (expected text or json)`);
  if (files.length === 0) throw new UsageError("E_USAGE", "expected at least one object file");
  const objs: ObjectSpec[] = [];
  for (const f of files) objs.push(await openObject(f));
  if (format === "json") {
    const docs = objs.map(inspectJson);
    io.stdout(`${JSON.stringify(docs.length === 1 ? docs[0] : docs, null, 2)}\n`);
  } else {
    io.stdout(objs.map(inspectText).join("\n"));
  }
}

export function registerInspect(program: Command, io: CliIo): void {
  program
    .command("inspect")
    .description("list an object's programs, maps, externs, globals and BTF.ext records")
    .argument("<files...>", "BPF ELF objects")
    .option("--format <format>", "text or json", "text")
    .action(async (files: string[], opts: { format?: string }) => {
      await runInspect(files, io, opts);
    });
}
