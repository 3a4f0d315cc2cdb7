/**
 * Uprobe support: where a function lives in an executable or shared library file. The kernel
 * attaches uprobes by (inode, file offset), so a symbol's virtual address is translated into a
 * file offset through the PT_LOAD segment that maps it (for relocatable objects, which have no
 * segments, through the symbol's section instead).
 */
import { ElfError } from "../errors.js";
import { ELF_ERROR } from "./error-codes.js";
import type { ElfFile, ElfSymbol } from "./types.js";
import { ELF } from "./types.js";

const STT_GNU_IFUNC = 10;

export interface FunctionSymbolMatch {
  /** The symbol that was chosen. */
  readonly symbol: ElfSymbol;
  /** Which table it came from. */
  readonly table: "dynsym" | "symtab";
  /** Its file offset: what a uprobe attaches to. */
  readonly offset: number;
}

function isFunction(s: ElfSymbol): boolean {
  return (s.type === ELF.STT_FUNC || s.type === STT_GNU_IFUNC) && s.shndx !== ELF.SHN_UNDEF;
}

/** `name` matches a plain symbol name, or a versioned one ("name@VER", "name@@VER") by its base. */
function nameMatches(symbolName: string, name: string): boolean {
  if (symbolName === name) return true;
  return !name.includes("@") && symbolName.startsWith(name) && symbolName.charCodeAt(name.length) === 0x40;
}

/**
 * The file offset of virtual address `vaddr`: found in the PT_LOAD segment whose file bytes
 * contain it; undefined when no segment maps it from the file. For files without program headers
 * (ET_REL), `shndx` names the section the value is relative to.
 */
export function addressToFileOffset(elf: ElfFile, vaddr: bigint, shndx?: number): number | undefined {
  if (elf.segments.length === 0) {
    if (shndx === undefined || shndx <= 0 || shndx >= elf.sections.length) return undefined;
    const sec = elf.sections[shndx];
    if (sec.type === ELF.SHT_NOBITS) return undefined;
    const within = vaddr - sec.addr;
    if (within < 0n || within >= BigInt(sec.size)) return undefined;
    return sec.offset + Number(within);
  }
  for (const seg of elf.segments) {
    if (seg.type !== ELF.PT_LOAD) continue;
    const within = vaddr - seg.vaddr;
    if (within >= 0n && within < BigInt(seg.filesz)) return seg.offset + Number(within);
  }
  return undefined;
}

/**
 * Finds the defined function (STT_FUNC or STT_GNU_IFUNC) called `name` and its file offset, the
 * way libbpf resolves `uprobe/<binary>:<function>`: .dynsym is searched first, then .symtab (a
 * stripped library has only the former, a static executable only the latter); within a table,
 * several matches at one offset are fine, a weak definition yields to a non-weak one, and two
 * non-weak definitions at different offsets are ambiguous.
 */
export function findFunctionSymbol(elf: ElfFile, name: string): FunctionSymbolMatch {
  const tables: ReadonlyArray<readonly ["dynsym" | "symtab", readonly ElfSymbol[]]> = [
    ["dynsym", elf.dynamicSymbols],
    ["symtab", elf.symbols],
  ];
  for (const [table, symbols] of tables) {
    let best: FunctionSymbolMatch | undefined;
    for (const symbol of symbols) {
      if (!isFunction(symbol) || !nameMatches(symbol.name, name)) continue;
      const offset = addressToFileOffset(elf, symbol.value, symbol.shndx);
      if (offset === undefined) {
        throw new ElfError(
          ELF_ERROR.SYMBOL_NOT_LOADED,
          `function '${name}' at ${symbol.value.toString(16)} is in no loadable part of the file`,
          { file: elf.file },
        );
      }
      if (best === undefined || best.offset === offset) {
        best ??= { symbol, table, offset };
        continue;
      }
      const bestWeak = best.symbol.bind === ELF.STB_WEAK;
      const weak = symbol.bind === ELF.STB_WEAK;
      if (!bestWeak && !weak) {
        throw new ElfError(
          ELF_ERROR.SYMBOL_AMBIGUOUS,
          `function '${name}' is ambiguous: '${best.symbol.name}' at file offset 0x${best.offset.toString(16)} and '${symbol.name}' at 0x${offset.toString(16)}`,
          { file: elf.file },
        );
      }
      if (bestWeak && !weak) best = { symbol, table, offset };
    }
    if (best !== undefined) return best;
  }
  throw new ElfError(ELF_ERROR.SYMBOL_NOT_FOUND, `no function '${name}' defined in .dynsym or .symtab`, {
    file: elf.file,
  });
}

/** The file offset of function `name`, for attaching a uprobe to it. */
export function findSymbolOffset(elf: ElfFile, name: string): number {
  return findFunctionSymbol(elf, name).offset;
}
