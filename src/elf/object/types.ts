/**
 * The object model: what a BPF ELF object says, as plain readonly data (no kernel, no fds).
 * `openObject` builds it following libbpf's rules (program discovery, subprogram linking, map
 * definitions, global data maps, externs); the verifier, VM and loader consume it and never
 * re-parse bytes. Instructions carry symbolic `ref`s (see InsnRef) for every relocation.
 */
import type { AttachType, ProgramType } from "../../abi/program-types.js";
import type { ByteOrder, Instruction } from "../../isa/instruction.js";
import type { Btf } from "../btf/btf.js";
import type { BtfExt, CoreReloShortName, FuncInfo, LineInfo } from "../btf-ext.js";
import type { ElfFile } from "../types.js";

/** One CO-RE relocation record of a program, after linking (instruction index into `insns`). */
export interface ProgramCoreRelo {
  /** Index into ProgramSpec.insns (not a slot). */
  readonly insn: number;
  /** Slot offset (8-byte units) of that instruction in the linked program. */
  readonly slot: number;
  /** Local (object) BTF type id of the root type. */
  readonly typeId: number;
  /** The access string, e.g. "0:1:2". */
  readonly access: string;
  readonly kind: CoreReloShortName;
  /** Numeric bpf_core_relo_kind. */
  readonly kindId: number;
  /** The function (program or subprogram) whose record this was. */
  readonly function: string;
}

/** func_info / line_info of a linked program: `insn` is a slot offset in the linked program. */
export interface ProgramFuncInfo extends FuncInfo {}
export interface ProgramLineInfo extends LineInfo {}

/** A subprogram linked into a program: where it starts in the linked instruction list. */
export interface LinkedSubprog {
  readonly name: string;
  readonly section: string;
  /** Index into ProgramSpec.insns of its first instruction. */
  readonly insn: number;
  /** Slot offset of its first instruction. */
  readonly slot: number;
  /** STB_GLOBAL: the kernel verifies a global function on its own, from its BTF prototype. */
  readonly global: boolean;
}

export interface ProgramSpec {
  /** The function's symbol name. */
  readonly name: string;
  /** The ELF section name as written (with a leading `?` if any). */
  readonly section: string;
  /** Section index in the ELF file. */
  readonly sectionIndex: number;
  /** Byte offset of the function in its section. */
  readonly sectionOffset: number;
  readonly type: ProgramType;
  readonly expectedAttachType?: AttachType;
  /** What follows the section prefix (`syscalls/sys_enter_execve`, `do_unlinkat`). */
  readonly attachTarget?: string;
  readonly sleepable: boolean;
  /** BPF_F_XDP_HAS_FRAGS. */
  readonly xdpFrags: boolean;
  /** False for SEC("?...") programs. */
  readonly autoload: boolean;
  /** STB_GLOBAL (libbpf: non-static). */
  readonly global: boolean;
  /** The function's own instructions followed by every subprogram it reaches, linked as libbpf does. */
  readonly insns: readonly Instruction[];
  /** Slot count of the function alone (before the appended subprograms). */
  readonly mainSlots: number;
  /** Subprograms appended after the main function, in append order. */
  readonly subprogs: readonly LinkedSubprog[];
  readonly funcInfo: readonly ProgramFuncInfo[];
  readonly lineInfo: readonly ProgramLineInfo[];
  readonly coreRelos: readonly ProgramCoreRelo[];
  /** The object's license string (libbpf passes it with every program). */
  readonly license: string;
  readonly kernelVersion: number;
}

/** Where a map's definition came from. */
export type MapOrigin = "btf" | "legacy" | "data" | "rodata" | "bss" | "kconfig";

export interface MapSpec {
  /** The map's name: the symbol, or for global data libbpf's `<obj prefix>.<section>` name. */
  readonly name: string;
  readonly origin: MapOrigin;
  /** ELF section the definition (or data) lives in. */
  readonly section: string;
  /** Map type id (enum bpf_map_type). */
  readonly type: number;
  /** bpftool's name of the type (`hash`, `array_of_maps`). */
  readonly typeName: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly numaNode: number;
  /** LIBBPF_PIN_NONE 0, LIBBPF_PIN_BY_NAME 1. */
  readonly pinning: number;
  readonly mapExtra: bigint;
  /** Local BTF type ids (0 when absent). For global data: key 0, value = the DATASEC id. */
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  /** Inner map definition for array_of_maps / hash_of_maps. */
  readonly inner?: MapSpec;
  /**
   * Initial contents of a map-in-map (inner map names) or prog array (program names) from
   * `values = { [i] = &x }`: slot index -> name.
   */
  readonly initSlots?: readonly { readonly index: number; readonly name: string }[];
  /** Initial bytes of a global data map (zeroes for .bss). */
  readonly data?: Uint8Array;
  /** .rodata / .rodata.* / .kconfig: BPF_F_RDONLY_PROG and frozen after load. */
  readonly readonly: boolean;
  /** Index in the ELF section for symbol-defined maps (byte offset), else 0. */
  readonly sectionOffset: number;
}

/** A global variable in a data section, for `--set VAR=VALUE` and typed reads. */
export interface VariableSpec {
  readonly name: string;
  /** The map holding it. */
  readonly map: string;
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  /** BTF type id of the variable's type (0 without BTF). */
  readonly btfTypeId: number;
  /** STB_GLOBAL (false for static variables). */
  readonly global: boolean;
  /** Lives in a read-only section (.rodata*): settable before load only. */
  readonly readonly: boolean;
}

export interface ExternSpec {
  readonly name: string;
  /** `kconfig` for __kconfig variables, `ksym` for __ksym variables and kfuncs. */
  readonly kind: "kconfig" | "ksym";
  /** Function extern (kfunc) rather than variable. */
  readonly isFunction: boolean;
  /** STB_WEAK: may be missing at load. */
  readonly weak: boolean;
  /** Local BTF id of the VAR or FUNC (0 when absent). */
  readonly btfId: number;
  /** BTF id of the variable's (or function's prototype's) type, resolved through typedefs for kconfig. */
  readonly btfTypeId: number;
  /** Offset in the .kconfig map value (kconfig variables only), else -1. */
  readonly offset: number;
  readonly size: number;
}

/** DATASEC fixups as libbpf's btf_fixup_datasec makes them (the loader patches BTF with these). */
export interface DatasecFixup {
  readonly datasecId: number;
  readonly name: string;
  readonly size: number;
  readonly vars: readonly { readonly varId: number; readonly name: string; readonly offset: number }[];
}

export interface ObjectSpec {
  readonly file?: string;
  /** Object name as libbpf derives it: the file's base name without `.o` (or `opts.name`). */
  readonly name: string;
  readonly byteOrder: ByteOrder;
  readonly elf: ElfFile;
  readonly btf?: Btf;
  readonly btfExt?: BtfExt;
  readonly license: string;
  readonly kernelVersion: number;
  readonly programs: readonly ProgramSpec[];
  readonly maps: readonly MapSpec[];
  readonly variables: readonly VariableSpec[];
  readonly externs: readonly ExternSpec[];
  readonly datasecFixups: readonly DatasecFixup[];
  /** Program by name; throws UsageError naming the known programs. */
  program(name: string): ProgramSpec;
  /** Map by name; throws UsageError naming the known maps. */
  map(name: string): MapSpec;
  variable(name: string): VariableSpec;
}

export interface OpenObjectOptions {
  /** Path for error messages when the input is bytes. */
  readonly file?: string;
  /** Overrides the object name used for global data map names. */
  readonly name?: string;
  /**
   * Keep programs of sections libbpf knows no type for (type `unspec`, for the caller to set)
   * instead of refusing the object. libbpf itself only fails such a program at load.
   */
  readonly allowUnknownSections?: boolean;
}
