/**
 * openObject: an ELF object file (path or bytes) to an ObjectSpec, following libbpf's open
 * phase: license and version, BTF and BTF.ext, maps (BTF, legacy, global data, kconfig),
 * externs, programs with subprograms linked and every relocation made a symbolic ref,
 * variables and the DATASEC fixups libbpf's btf_fixup_datasec would make.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { BtfError, ElfError, UsageError } from "../../errors.js";
import type { Btf } from "../btf/btf.js";
import { parseBtf } from "../btf/parse.js";
import { type BtfExt, parseBtfExt } from "../btf-ext.js";
import { readElf } from "../reader.js";
import { ELF, type ElfFile } from "../types.js";
import { isExecSection, OBJECT_ERROR, type ObjectContext, u32 } from "./context.js";
import { collectExterns } from "./externs.js";
import { collectBtfMaps, collectDataMaps, collectLegacyMaps, dataSectionKind, kconfigMap } from "./maps.js";
import { collectFunctions, linkPrograms } from "./programs.js";
import type {
  DatasecFixup,
  MapSpec,
  ObjectSpec,
  OpenObjectOptions,
  ProgramSpec,
  VariableSpec,
} from "./types.js";

/** libbpf's object name: the file's base name up to its first dot. */
export function objectNameOf(file: string | undefined): string {
  if (!file) return "";
  const b = basename(file);
  const dot = b.indexOf(".");
  return (dot >= 0 ? b.slice(0, dot) : b).slice(0, 63);
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end >= 0 ? bytes.subarray(0, end) : bytes);
}

function withSection<T>(file: string | undefined, section: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BtfError) {
      // BTF.ext messages already name their section.
      const where = [file, section === ".BTF" ? "section .BTF" : undefined].filter(Boolean).join(": ");
      if (where) e.message = `${where}: ${e.message}`;
    }
    throw e;
  }
}

function collectVariables(ctx: ObjectContext, maps: readonly MapSpec[]): VariableSpec[] {
  const out: VariableSpec[] = [];
  for (const sym of ctx.elf.symbols) {
    if (sym.type !== ELF.STT_OBJECT || sym.name === "") continue;
    const sec = ctx.elf.sections[sym.shndx];
    if (!sec || sym.shndx >= 0xff00) continue;
    const kind = dataSectionKind(sec);
    if (!kind) continue;
    const map = maps.find((m) => m.section === sec.name && m.origin === kind);
    if (!map) continue;
    let btfTypeId = 0;
    const ds = ctx.btf?.findByName(sec.name, "DATASEC");
    if (ctx.btf && ds && ds.kind === "DATASEC") {
      for (const v of ds.vars) {
        const t = ctx.btf.typeById(v.type);
        if (t.kind === "VAR" && t.name === sym.name) btfTypeId = t.type;
      }
    }
    out.push({
      name: sym.name,
      map: map.name,
      section: sec.name,
      offset: Number(sym.value),
      size: Number(sym.size),
      btfTypeId,
      global: sym.bind !== ELF.STB_LOCAL,
      readonly: kind === "rodata",
    });
  }
  return out;
}

/** Sizes and variable offsets of each DATASEC, from the ELF sections and symbols. */
function datasecFixups(
  ctx: ObjectContext,
  kconfig: readonly { name: string; offset: number }[],
  kconfigSize: number,
): DatasecFixup[] {
  const btf = ctx.btf;
  if (!btf) return [];
  const out: DatasecFixup[] = [];
  for (const t of btf.types) {
    if (t.kind !== "DATASEC") continue;
    if (t.name === ".ksyms") continue;
    const isKconfig = t.name === ".kconfig";
    const sec = isKconfig ? undefined : ctx.elf.section(t.name);
    if (!isKconfig && !sec) continue;
    const vars = t.vars.map((v) => {
      const vt = btf.typeById(v.type);
      const name = vt.name;
      let offset = v.offset;
      if (isKconfig) offset = kconfig.find((k) => k.name === name)?.offset ?? offset;
      else if (vt.kind === "VAR" && vt.linkage === 1) {
        // Static variables keep clang's offset; global ones take their symbol's value.
        const sym = ctx.elf.symbols.find(
          (s) => s.name === name && s.shndx === sec!.index && s.type === ELF.STT_OBJECT,
        );
        if (sym) offset = Number(sym.value);
      }
      return { varId: v.type, name, offset };
    });
    // The kernel wants DATASEC members in offset order (libbpf sorts them after fixing them up).
    vars.sort((a, b) => a.offset - b.offset);
    out.push({ datasecId: t.id, name: t.name, size: isKconfig ? kconfigSize : sec!.size, vars });
  }
  return out;
}

/** Build the ObjectSpec of an ELF file already read. */
export function objectFromElf(elf: ElfFile, opts: OpenObjectOptions = {}): ObjectSpec {
  const file = opts.file ?? elf.file;
  // libbpf's rule: a relocatable object for EM_BPF (or EM_NONE, which old LLVM wrote).
  const { type, machine } = elf.header;
  if (type !== 1 || (machine !== 0 && machine !== 247)) {
    throw new ElfError(
      OBJECT_ERROR.NOT_BPF,
      `not a BPF object file (ELF type ${type}, machine ${machine}; expected a relocatable EM_BPF object)`,
      file !== undefined ? { file } : {},
    );
  }
  const btfSec = elf.section(".BTF");
  const btf: Btf | undefined = btfSec
    ? withSection(file, ".BTF", () => parseBtf(btfSec.data, { pointerSize: 8 }))
    : undefined;
  const extSec = elf.section(".BTF.ext");
  const btfExt: BtfExt | undefined =
    extSec && btf
      ? withSection(file, ".BTF.ext", () =>
          parseBtfExt(extSec.data, btf, { sectionSize: (n) => elf.section(n)?.size }),
        )
      : undefined;
  const ctx: ObjectContext = {
    elf,
    file,
    name: opts.name ?? objectNameOf(file),
    btf,
    btfExt,
    // libbpf's text_shndx: the non-empty executable `.text` (clang also emits an empty one).
    textIndex: elf.sections.find((s) => s.name === ".text" && isExecSection(s))?.index,
  };
  const licSec = elf.section("license");
  const license = licSec ? cString(licSec.data) : "";
  const verSec = elf.section("version");
  const kernelVersion = verSec && verSec.data.length >= 4 ? u32(ctx, verSec.data, 0) : 0;

  const { externs, kconfigSize } = collectExterns(ctx);
  const maps: MapSpec[] = [...collectLegacyMaps(ctx), ...collectBtfMaps(ctx), ...collectDataMaps(ctx)];
  if (externs.some((e) => e.kind === "kconfig")) maps.push(kconfigMap(ctx, kconfigSize));
  const sections = collectFunctions(ctx, maps);
  const programs = linkPrograms(ctx, sections, {
    license,
    kernelVersion,
    allowUnknownSections: opts.allowUnknownSections === true,
  });
  const variables = collectVariables(ctx, maps);
  const fixups = datasecFixups(
    ctx,
    externs.filter((e) => e.kind === "kconfig"),
    kconfigSize,
  );
  const pick = <T extends { name: string }>(list: readonly T[], what: string, name: string): T => {
    const found = list.find((x) => x.name === name);
    if (found) return found;
    const known = list.map((x) => x.name).join(", ") || "none";
    throw new UsageError(
      "E_OBJ_NOT_FOUND",
      `${file ? `${file}: ` : ""}no ${what} '${name}' (known: ${known})`,
    );
  };
  return {
    ...(file !== undefined ? { file } : {}),
    name: ctx.name,
    byteOrder: elf.header.byteOrder,
    elf,
    ...(btf ? { btf } : {}),
    ...(btfExt ? { btfExt } : {}),
    license,
    kernelVersion,
    programs,
    maps,
    variables,
    externs,
    datasecFixups: fixups,
    program: (name: string): ProgramSpec => pick(programs, "program", name),
    map: (name: string): MapSpec => pick(maps, "map", name),
    variable: (name: string): VariableSpec => pick(variables, "variable", name),
  };
}

/** Open a BPF object file (path or bytes) as libbpf's open phase would, without a kernel. */
export async function openObject(
  input: string | Uint8Array,
  opts: OpenObjectOptions = {},
): Promise<ObjectSpec> {
  if (typeof input === "string") {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(input);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new UsageError("E_IO", `${input}: cannot read: ${why}`);
    }
    return objectFromElf(readElf(bytes, { file: input }), { ...opts, file: opts.file ?? input });
  }
  return objectFromElf(readElf(input, { file: opts.file }), opts);
}

/** openObject on bytes, synchronously. */
export function openObjectSync(bytes: Uint8Array, opts: OpenObjectOptions = {}): ObjectSpec {
  return objectFromElf(readElf(bytes, { file: opts.file }), opts);
}
