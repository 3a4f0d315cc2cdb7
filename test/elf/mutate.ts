/** Byte-level edits of real ELF files for the error and property tests (plain ELF64 offsets). */
import type { ElfFile } from "../../src/elf/types.js";

/** Section header field offsets (ELF64 gABI). */
export const SH = {
  name: 0,
  type: 4,
  flags: 8,
  addr: 16,
  offset: 24,
  size: 32,
  link: 40,
  info: 44,
  addralign: 48,
  entsize: 56,
} as const;

/** ELF header field offsets. */
export const EH = {
  phoff: 32,
  shoff: 40,
  phentsize: 54,
  phnum: 56,
  shentsize: 58,
  shnum: 60,
  shstrndx: 62,
} as const;

export interface Editor {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly le: boolean;
  /** File offset of section header `index`. */
  shdr(index: number): number;
  /** File offset of program header `index`. */
  phdr(index: number): number;
  u16(at: number, v: number): void;
  u32(at: number, v: number): void;
  u64(at: number, v: bigint | number): void;
}

/** A copy of `original` edited by `edit`. */
export function patch(original: Uint8Array, edit: (e: Editor) => void): Uint8Array {
  const bytes = new Uint8Array(original);
  const view = new DataView(bytes.buffer);
  const le = bytes[5] === 1;
  const shoff = () => Number(view.getBigUint64(EH.shoff, le));
  const phoff = () => Number(view.getBigUint64(EH.phoff, le));
  edit({
    bytes,
    view,
    le,
    shdr: (i) => shoff() + i * 64,
    phdr: (i) => phoff() + i * 56,
    u16: (at, v) => view.setUint16(at, v, le),
    u32: (at, v) => view.setUint32(at, v, le),
    u64: (at, v) => view.setBigUint64(at, BigInt(v), le),
  });
  return bytes;
}

/** Reads everything the reader parses lazily, so that its checks run. */
export function touchAll(elf: ElfFile): number {
  let n = elf.symbols.length + elf.dynamicSymbols.length;
  for (const r of elf.relocations) n += r.entries.length;
  for (const s of elf.sections) elf.section(s.name);
  return n;
}
