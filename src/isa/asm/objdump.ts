/**
 * llvm-objdump -d [-r] output read back as assembly: `Disassembly of section X:` switches
 * section, `0000000000000060 <name>:` defines a label, `      12:\t<hex bytes>\t<text>` is an
 * instruction, `\t\t0000000000000030:  R_BPF_64_64\tcounts` a relocation. Everything printed is
 * checked: slot numbers and label addresses against the layout, raw bytes against the encoding
 * of the text, `<sym+off>` branch annotations against the label addresses. A mismatch is an
 * AsmError naming the line. The raw bytes are authoritative for what the text cannot say (the
 * src field of `call N`, which llvm-objdump prints the same for helper and bpf-to-bpf calls).
 */
import { ELF, R_BPF } from "../../elf/types.js";
import { decode, encode } from "../codec.js";
import { formatInsn, UNKNOWN_TEXT } from "../format.js";
import type { Instruction } from "../instruction.js";
import { CLASS, JMP_OPS, opClass, opCode } from "../opcodes.js";
import { asmError, lex, type SourcePos } from "./lexer.js";
import { parseLlvmInsn } from "./llvm-insn.js";
import type { AsmBuilder, InsnFixup } from "./module.js";

const INSN_LINE = /^\s*([0-9]+):\t(?:((?:[0-9a-f]{2} )*[0-9a-f]{2})\t)?(.*)$/;
const LABEL_LINE = /^([0-9a-f]{8,16}) <(.+)>:$/;
const RELOC_LINE = /^\s+([0-9a-f]{8,16}):\s+(R_BPF_\w+)\s+(.+)$/;
const SECTION_LINE = /^Disassembly of section (.+):$/;
const CORE_LINE = /^\s+([0-9a-f]{8,16}):\s+CO-RE\s+\S/;

/** Does this text look like llvm-objdump -d output? */
export function looksLikeObjdump(text: string): boolean {
  return (
    /^\s*[0-9]+:\t[0-9a-f]{2}( [0-9a-f]{2}){7}/m.test(text) ||
    /^Disassembly of section /m.test(text) ||
    // --no-show-raw-insn listings: right-aligned slot numbers, a colon and a tab.
    /^ +[0-9]+:\t/m.test(text)
  );
}

const RELOC_TYPES: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(R_BPF).map(([k, v]) => [`R_BPF_${k}`, v]),
);

interface PendingCheck {
  readonly pos: SourcePos;
  readonly section: string;
  readonly target: number;
  readonly label: string;
  readonly add: number;
}

/** What llvm-objdump prints for an instruction, with and without ALU32 (--mcpu=v3). */
function printedFor(i: Instruction): string[] {
  return [formatInsn(i), formatInsn(i, { mcpu: "v3" })];
}

function parseBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.split(" ").map((h) => Number.parseInt(h, 16)));
}

function hexBytes(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
}

/** Branch target (byte offset in the section) of a jump or local call, if the instruction has one. */
function branchTarget(i: Instruction, slot: number): number | undefined {
  const cls = opClass(i.opcode);
  if (cls !== CLASS.JMP && cls !== CLASS.JMP32) return undefined;
  const code = opCode(i.opcode);
  if (code === JMP_OPS.exit) return undefined;
  if (code === JMP_OPS.call) return i.src === 1 ? (slot + 1 + i.imm) * 8 : undefined;
  if (code === JMP_OPS.ja && cls === CLASS.JMP32) return (slot + 1 + i.imm) * 8;
  return (slot + 1 + i.off) * 8;
}

export function assembleObjdump(b: AsmBuilder, source: string, file?: string): void {
  const labels = new Map<string, { section: string; offset: number }>();
  const checks: PendingCheck[] = [];
  // Byte offset reached in each section, and the instruction emitted last (for relocations).
  const offsets = new Map<string, number>();
  let section: string | undefined;
  // After a `...` line: the zero bytes llvm-objdump did not print end at the next address.
  let zeroRun = false;
  let last:
    | { pos: SourcePos; offset: number; size: number; insn: Instruction; fixup?: InsnFixup }
    | undefined;
  const flushLast = (): void => {
    if (last) b.addInsn(last.insn, last.pos, last.fixup);
    last = undefined;
  };
  const lines = source.split("\n");
  lines.forEach((raw, idx) => {
    const line = raw.replace(/\r$/, "");
    const pos: SourcePos = { file, line: idx + 1 };
    if (line.trim() === "" || /:\s+file format /.test(line)) return;
    let m = SECTION_LINE.exec(line);
    if (m) {
      flushLast();
      zeroRun = false;
      section = m[1];
      b.switchTo(section, { type: ELF.SHT_PROGBITS, flags: ELF.SHF_ALLOC | ELF.SHF_EXECINSTR });
      if (!offsets.has(section)) offsets.set(section, 0);
      return;
    }
    m = LABEL_LINE.exec(line);
    if (m) {
      flushLast();
      if (section === undefined) section = ".text";
      const at = Number.parseInt(m[1], 16);
      let here = offsets.get(section) ?? 0;
      if (zeroRun && at > here) {
        b.addFill(at - here, 0);
        here = at;
        offsets.set(section, here);
      }
      zeroRun = false;
      if (at !== here) {
        throw asmError(
          "E_ASM_ADDRESS",
          `label <${m[2]}> is at 0x${at.toString(16)} but the code reaches 0x${here.toString(16)}`,
          pos,
          1,
        );
      }
      // llvm-objdump names a section start that has no symbol after the section: no label then.
      if (m[2] !== section) {
        b.defineLabel(m[2], pos, 18);
        labels.set(m[2], { section, offset: at });
      }
      return;
    }
    m = RELOC_LINE.exec(line);
    if (m) {
      if (!last || section === undefined)
        throw asmError("E_ASM_RELOC", "relocation line without an instruction before it", pos, 1);
      const at = Number.parseInt(m[1], 16);
      if (at < last.offset || at >= last.offset + last.size) {
        throw asmError(
          "E_ASM_RELOC",
          `relocation offset 0x${at.toString(16)} is not inside the instruction before it`,
          pos,
          1,
        );
      }
      const type = RELOC_TYPES[m[2]];
      if (type === undefined) throw asmError("E_ASM_RELOC", `unknown relocation type ${m[2]}`, pos, 1);
      const target = m[3].trim();
      if (last.fixup) throw asmError("E_ASM_RELOC", "two relocations on one instruction", pos, 1);
      last.fixup = { kind: "reloc", type, target, col: line.indexOf(target) + 1 };
      return;
    }
    m = CORE_LINE.exec(line);
    if (m) {
      // A CO-RE relocation (from .BTF.ext) describes the instruction; it is not assembled.
      const at = Number.parseInt(m[1], 16);
      if (!last || at < last.offset || at >= last.offset + last.size) {
        throw asmError("E_ASM_RELOC", "CO-RE line does not follow the instruction it describes", pos, 1);
      }
      return;
    }
    if (/^\s+\.\.\.$/.test(line)) {
      // llvm-objdump skips a run of zero bytes: the next address says how long it was.
      flushLast();
      zeroRun = true;
      return;
    }
    m = INSN_LINE.exec(line);
    if (!m) throw asmError("E_ASM_SYNTAX", "not a line of llvm-objdump -d output", pos, 1);
    flushLast();
    if (section === undefined) {
      section = ".text";
      offsets.set(section, 0);
    }
    const slot = Number(m[1]);
    let here = offsets.get(section) ?? 0;
    if (zeroRun && slot * 8 > here) {
      b.addFill(slot * 8 - here, 0);
      here = slot * 8;
    }
    zeroRun = false;
    if (slot * 8 !== here) {
      throw asmError(
        "E_ASM_ADDRESS",
        `instruction number ${slot} does not follow the previous one (expected ${here / 8})`,
        pos,
        1,
      );
    }
    let text = m[3].trim();
    const textCol = line.indexOf(m[3]) + 1;
    // `<label>` / `<label+0x10>` annotation of a branch target.
    let note: { label: string; add: number } | undefined;
    const nm = text === "<unknown>" ? null : /\s*<([^<>+]+)(?:\+(0x[0-9a-f]+))?>$/.exec(text);
    if (nm) {
      note = { label: nm[1], add: nm[2] ? Number.parseInt(nm[2], 16) : 0 };
      text = text.slice(0, nm.index).trim();
    }
    let insn: Instruction | undefined;
    if (text !== UNKNOWN_TEXT && text !== "") {
      const toks = lex(text, pos, textCol);
      const parsed = parseLlvmInsn(toks, pos, textCol + text.length);
      if (parsed.fixup)
        throw asmError("E_ASM_SYNTAX", "objdump text has numeric branch targets, not labels", pos, textCol);
      insn = parsed.insn;
    }
    if (m[2] !== undefined) {
      const bytes = parseBytes(m[2]);
      if (bytes.length !== 8 && bytes.length !== 16) {
        throw asmError(
          "E_ASM_BYTES",
          `an instruction is 8 or 16 bytes, found ${bytes.length}`,
          pos,
          line.indexOf(m[2]) + 1,
        );
      }
      const decoded = decode(bytes, b.byteOrder)[0];
      if ((decoded.opcode === 0x18) !== (bytes.length === 16)) {
        throw asmError(
          "E_ASM_BYTES",
          "ld_imm64 takes 16 bytes and every other instruction 8",
          pos,
          line.indexOf(m[2]) + 1,
        );
      }
      if (insn) {
        // `call N` reads the same for helper, bpf-to-bpf and kfunc calls: src comes from the bytes.
        const cmp =
          insn.opcode === (CLASS.JMP | JMP_OPS.call) && decoded.opcode === insn.opcode
            ? { ...insn, src: decoded.src }
            : insn;
        const want = encode([cmp], b.byteOrder);
        // llvm-objdump without --mcpu=v3 prints some 32-bit atomics with another instruction's
        // text; such a line is still right when it is exactly what llvm-objdump prints for the bytes.
        if (hexBytes(want) !== hexBytes(bytes) && !printedFor(decoded).includes(text)) {
          throw asmError(
            "E_ASM_BYTES",
            `raw bytes ${m[2]} do not match '${text}' (which encodes as ${hexBytes(want)})`,
            pos,
            line.indexOf(m[2]) + 1,
          );
        }
      }
      insn = decoded;
    }
    if (!insn) throw asmError("E_ASM_SYNTAX", "'<unknown>' instruction without raw bytes", pos, textCol);
    if (text === UNKNOWN_TEXT && !printedFor(insn).includes(UNKNOWN_TEXT)) {
      throw asmError("E_ASM_BYTES", `raw bytes of a valid instruction are marked '<unknown>'`, pos, textCol);
    }
    const size = insn.opcode === 0x18 ? 16 : 8;
    if (note) {
      const target = branchTarget(insn, slot);
      if (target === undefined)
        throw asmError(
          "E_ASM_NOTE",
          `annotation <${note.label}> on an instruction that does not branch`,
          pos,
          textCol,
        );
      checks.push({ pos, section, target, label: note.label, add: note.add });
    }
    last = { pos, offset: here, size, insn };
    offsets.set(section, here + size);
  });
  flushLast();
  for (const c of checks) {
    const l = labels.get(c.label);
    const at = l ? l.offset + c.add : c.label === c.section ? c.add : undefined;
    const sec = l ? l.section : c.section;
    if (at === undefined || sec !== c.section || at !== c.target) {
      throw asmError(
        "E_ASM_NOTE",
        `annotation <${c.label}${c.add ? `+0x${c.add.toString(16)}` : ""}> does not name the branch target 0x${c.target.toString(16)}`,
        c.pos,
      );
    }
  }
}
