/**
 * BTF.ext: the per-instruction debug and relocation records clang writes next to .BTF —
 * func_info (which BTF FUNC starts at an instruction), line_info (source file, line, column
 * and the line's text) and CO-RE relocation records (root type, access string, kind) — grouped
 * per ELF section. Strings (section names, file names, source lines, access strings) live in
 * the .BTF string table. Both byte orders; the header length is honoured so newer headers with
 * extra fields still parse. Offsets are kept as the file gives them: bytes from the start of
 * the section (`insnOff`), plus the slot index (`insn` = insnOff / 8).
 */
import { BtfError } from "../errors.js";
import type { ByteOrder } from "../isa/instruction.js";
import type { Btf } from "./btf/btf.js";

export const BTF_EXT_MAGIC = 0xeb9f;

/** bpf_core_relo_kind names, indexed by the kind number (libbpf's spelling). */
export const CORE_RELO_KINDS = [
  "byte_off",
  "byte_sz",
  "field_exists",
  "signed",
  "lshift_u64",
  "rshift_u64",
  "local_type_id",
  "target_type_id",
  "type_exists",
  "type_size",
  "enumval_exists",
  "enumval_value",
  "type_matches",
] as const;
export type CoreReloShortName = (typeof CORE_RELO_KINDS)[number];

export interface FuncInfo {
  /** Byte offset of the instruction in its section (as in the file). */
  readonly insnOff: number;
  /** Instruction slot index (insnOff / 8). */
  readonly insn: number;
  /** BTF FUNC type id. */
  readonly typeId: number;
}

export interface LineInfo {
  readonly insnOff: number;
  readonly insn: number;
  readonly fileNameOff: number;
  readonly lineOff: number;
  /** Source file name. */
  readonly file: string;
  /** The source line's text (clang stores it in the string table). */
  readonly text: string;
  readonly line: number;
  readonly column: number;
}

export interface CoreRelo {
  readonly insnOff: number;
  readonly insn: number;
  /** Root type id in the object's BTF. */
  readonly typeId: number;
  readonly accessStrOff: number;
  /** Access string, e.g. "0:1:2" (field path) or "0" (type/enum based). */
  readonly access: string;
  readonly kindId: number;
  readonly kind: CoreReloShortName;
}

/** Records of one ELF section. */
export interface BtfExtSection<T> {
  readonly section: string;
  readonly records: readonly T[];
}

export interface BtfExt {
  readonly byteOrder: ByteOrder;
  readonly hdrLen: number;
  readonly funcInfoRecSize: number;
  readonly lineInfoRecSize: number;
  readonly coreReloRecSize: number;
  readonly funcInfo: readonly BtfExtSection<FuncInfo>[];
  readonly lineInfo: readonly BtfExtSection<LineInfo>[];
  readonly coreRelos: readonly BtfExtSection<CoreRelo>[];
  /** Records of one kind for one section (empty when none). */
  funcInfoFor(section: string): readonly FuncInfo[];
  lineInfoFor(section: string): readonly LineInfo[];
  coreRelosFor(section: string): readonly CoreRelo[];
}

export const BTF_EXT_ERROR = {
  TRUNCATED: "BTF_EXT_TRUNCATED",
  MAGIC: "BTF_EXT_BAD_MAGIC",
  VERSION: "BTF_EXT_BAD_VERSION",
  HEADER: "BTF_EXT_BAD_HEADER",
  RECORD: "BTF_EXT_BAD_RECORD",
} as const;

type Kind = "func_info" | "line_info" | "core_relo";
const MIN_REC: Record<Kind, number> = { func_info: 8, line_info: 16, core_relo: 16 };

function fail(code: string, message: string): never {
  throw new BtfError(code, `.BTF.ext: ${message}`);
}

/** A BTF string, turning an out-of-range offset into an error that names the record. */
function str(btf: Btf, off: number, what: string): string {
  try {
    return btf.stringAt(off);
  } catch {
    return fail(BTF_EXT_ERROR.RECORD, `${what}: string offset ${off} out of range`);
  }
}

interface Raw {
  readonly recSize: number;
  readonly sections: { readonly section: string; readonly recs: { readonly at: number }[] }[];
}

/** Walk one info block: rec_size, then { sec_name_off, num_info, records } until the end. */
function walk(view: DataView, le: boolean, btf: Btf, kind: Kind, start: number, len: number): Raw {
  if (len === 0) return { recSize: 0, sections: [] };
  const end = start + len;
  if (end > view.byteLength)
    fail(BTF_EXT_ERROR.HEADER, `${kind} block [${start}, ${end}) past the end (${view.byteLength} bytes)`);
  if (len < 4) fail(BTF_EXT_ERROR.TRUNCATED, `${kind} block too short for its record size`);
  const recSize = view.getUint32(start, le);
  if (recSize < MIN_REC[kind] || recSize % 4 !== 0)
    fail(
      BTF_EXT_ERROR.RECORD,
      `${kind} record size ${recSize} invalid (minimum ${MIN_REC[kind]}, multiple of 4)`,
    );
  const sections: Raw["sections"] = [];
  let p = start + 4;
  while (p < end) {
    if (p + 8 > end) fail(BTF_EXT_ERROR.TRUNCATED, `${kind}: truncated section header at offset ${p}`);
    const nameOff = view.getUint32(p, le);
    const num = view.getUint32(p + 4, le);
    const section = str(btf, nameOff, `${kind} section name`);
    if (num === 0) fail(BTF_EXT_ERROR.RECORD, `${kind} section '${section}' has no records`);
    p += 8;
    if (num > (end - p) / recSize)
      fail(
        BTF_EXT_ERROR.TRUNCATED,
        `${kind} section '${section}': ${num} records of ${recSize} bytes overrun the block`,
      );
    const recs: { at: number }[] = [];
    for (let i = 0; i < num; i++, p += recSize) recs.push({ at: p });
    sections.push({ section, recs });
  }
  return { recSize, sections };
}

export interface ParseBtfExtOptions {
  /**
   * Size in bytes of a section by name (undefined if absent). When given, records of an existing
   * section must point inside it. Records of sections the object lacks are kept (libbpf ignores
   * them: it looks records up by the name of each program's section).
   */
  readonly sectionSize?: (name: string) => number | undefined;
}

function checkOff(
  kind: Kind,
  section: string,
  index: number,
  off: number,
  sectionSize: ((name: string) => number | undefined) | undefined,
): void {
  if (off % 8 !== 0)
    fail(BTF_EXT_ERROR.RECORD, `${kind} '${section}' record ${index}: insn_off ${off} not a multiple of 8`);
  const size = sectionSize?.(section);
  if (size !== undefined && off >= size)
    fail(
      BTF_EXT_ERROR.RECORD,
      `${kind} '${section}' record ${index}: insn_off ${off} past the section end (${size})`,
    );
}

/** Parse a .BTF.ext section against the object's BTF (for strings and type id bounds). */
export function parseBtfExt(bytes: Uint8Array, btf: Btf, opts: ParseBtfExtOptions = {}): BtfExt {
  if (bytes.length < 8) fail(BTF_EXT_ERROR.TRUNCATED, `header needs 8 bytes, have ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le: boolean;
  if (view.getUint16(0, true) === BTF_EXT_MAGIC) le = true;
  else if (view.getUint16(0, false) === BTF_EXT_MAGIC) le = false;
  else fail(BTF_EXT_ERROR.MAGIC, `bad magic 0x${view.getUint16(0, true).toString(16)}`);
  if (bytes[2] !== 1) fail(BTF_EXT_ERROR.VERSION, `unsupported version ${bytes[2]}`);
  const hdrLen = view.getUint32(4, le);
  // func_info and line_info offsets are mandatory; core_relo needs the 32-byte header.
  if (hdrLen < 24) fail(BTF_EXT_ERROR.HEADER, `header length ${hdrLen} < 24`);
  if (hdrLen > bytes.length)
    fail(BTF_EXT_ERROR.TRUNCATED, `header length ${hdrLen} past the end (${bytes.length} bytes)`);
  const u32 = (o: number): number => view.getUint32(o, le);
  const block = (offField: number): [number, number] => {
    const off = u32(offField);
    const len = u32(offField + 4);
    return [hdrLen + off, len];
  };
  const sizeOf = opts.sectionSize;
  const [fiStart, fiLen] = block(8);
  const [liStart, liLen] = block(16);
  const fi = walk(view, le, btf, "func_info", fiStart, fiLen);
  const li = walk(view, le, btf, "line_info", liStart, liLen);
  const cr = hdrLen >= 32 ? walk(view, le, btf, "core_relo", ...block(24)) : { recSize: 0, sections: [] };
  const typeCount = btf.typeCount;

  const funcInfo = fi.sections.map(({ section, recs }) => ({
    section,
    records: recs.map(({ at }, i): FuncInfo => {
      const insnOff = u32(at);
      const typeId = u32(at + 4);
      checkOff("func_info", section, i, insnOff, sizeOf);
      if (typeId === 0 || typeId >= typeCount)
        fail(BTF_EXT_ERROR.RECORD, `func_info '${section}' record ${i}: type id ${typeId} out of range`);
      return { insnOff, insn: insnOff / 8, typeId };
    }),
  }));
  const lineInfo = li.sections.map(({ section, recs }) => ({
    section,
    records: recs.map(({ at }, i): LineInfo => {
      const insnOff = u32(at);
      const fileNameOff = u32(at + 4);
      const lineOff = u32(at + 8);
      const lineCol = u32(at + 12);
      checkOff("line_info", section, i, insnOff, sizeOf);
      const what = `line_info '${section}' record ${i}`;
      return {
        insnOff,
        insn: insnOff / 8,
        fileNameOff,
        lineOff,
        file: str(btf, fileNameOff, what),
        text: str(btf, lineOff, what),
        line: lineCol >>> 10,
        column: lineCol & 0x3ff,
      };
    }),
  }));
  const coreRelos = cr.sections.map(({ section, recs }) => ({
    section,
    records: recs.map(({ at }, i): CoreRelo => {
      const insnOff = u32(at);
      const typeId = u32(at + 4);
      const accessStrOff = u32(at + 8);
      const kindId = u32(at + 12);
      const what = `core_relo '${section}' record ${i}`;
      checkOff("core_relo", section, i, insnOff, sizeOf);
      if (typeId >= typeCount) fail(BTF_EXT_ERROR.RECORD, `${what}: type id ${typeId} out of range`);
      const kind = CORE_RELO_KINDS[kindId];
      if (kind === undefined) fail(BTF_EXT_ERROR.RECORD, `${what}: unknown relocation kind ${kindId}`);
      const access = str(btf, accessStrOff, what);
      if (access === "") fail(BTF_EXT_ERROR.RECORD, `${what}: empty access string`);
      return { insnOff, insn: insnOff / 8, typeId, accessStrOff, access, kindId, kind };
    }),
  }));
  const index = <T>(list: readonly BtfExtSection<T>[]): ((s: string) => readonly T[]) => {
    const m = new Map<string, readonly T[]>();
    for (const s of list) m.set(s.section, [...(m.get(s.section) ?? []), ...s.records]);
    return (s) => m.get(s) ?? [];
  };
  return {
    byteOrder: le ? "le" : "be",
    hdrLen,
    funcInfoRecSize: fi.recSize,
    lineInfoRecSize: li.recSize,
    coreReloRecSize: cr.recSize,
    funcInfo,
    lineInfo,
    coreRelos,
    funcInfoFor: index(funcInfo),
    lineInfoFor: index(lineInfo),
    coreRelosFor: index(coreRelos),
  };
}
