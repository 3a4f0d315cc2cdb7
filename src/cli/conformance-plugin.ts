/**
 * `tsbpf-conformance-plugin`: the plugin side of the bpf_conformance runner's protocol.
 *   <plugin> [<memory hex>] [--xdp] [--elf] [--other-options]   (program hex on stdin)
 * `--xdp` (implied by an ELF program in section `xdp`): r1 is an xdp_md context over the memory,
 * for programs the runner prefixed with its XDP prolog.
 * The memory and the program are hex bytes separated by whitespace ("aa  bb  11  "). The plugin
 * runs the program (r1 = memory, r2 = its length) and prints r0 as unsigned 64-bit hex; on any
 * failure it prints one line on stdout (where the runner reads the error text of a failing
 * plugin) and exits 1 (a fault or refused program) or 2 (unusable input).
 */
import { readElf } from "../elf/reader.js";
import { isTsbpfError, UsageError } from "../errors.js";
import { decode } from "../isa/codec.js";
import type { Instruction } from "../isa/instruction.js";
import { runConformance } from "../vm/conformance.js";
import { VmFault } from "../vm/errors.js";
import { type CliIo, defaultIo, ExitCode, type ExitCodeValue } from "./io.js";

/** Parse "aa  bb 11" (also "aabb11", "0xaa") into bytes; UsageError names what is wrong. */
export function parseHexBytes(text: string, what: string): Uint8Array {
  const out: number[] = [];
  for (const tok of text.split(/[\s,]+/)) {
    if (tok === "") continue;
    const t = tok.startsWith("0x") || tok.startsWith("0X") ? tok.slice(2) : tok;
    if (!/^[0-9a-fA-F]+$/.test(t) || t.length % 2 !== 0) {
      throw new UsageError("E_PLUGIN_HEX", `${what}: '${tok}' is not hex bytes`);
    }
    for (let i = 0; i < t.length; i += 2) out.push(Number.parseInt(t.slice(i, i + 2), 16));
  }
  return Uint8Array.from(out);
}

const STT_FUNC = 2;
const R_BPF_64_32 = 10;

/**
 * The program of an ELF object as the runner writes it: function `main` in `.text` (or in
 * `xdp` with the runner's XDP prolog, which then needs an xdp_md context). The whole section
 * is kept and entered at main; calls to global functions of that section that the compiler left
 * to the linker (R_BPF_64_32 on a call) are resolved to relative calls, as libbpf does.
 */
export function programFromElf(bytes: Uint8Array): { insns: Instruction[]; entry: number; xdp: boolean } {
  const elf = readElf(bytes, { file: "<stdin>" });
  const mains = elf.symbols.filter((s) => s.name === "main" && s.type === STT_FUNC);
  const main = mains.find((s) => elf.sections[s.shndx]?.name === ".text") ?? mains[0];
  const text = main ? elf.sections[main.shndx] : undefined;
  if (!main || !text) throw new UsageError("E_PLUGIN_ELF", "no function main in the ELF object");
  const start = Number(main.value);
  if (start % 8 !== 0 || start >= text.data.byteLength) {
    throw new UsageError("E_PLUGIN_ELF", `function main at ${text.name}+${start} is not an instruction`);
  }
  const code = Uint8Array.from(text.data);
  const view = new DataView(code.buffer);
  for (const rs of elf.relocations) {
    if (rs.target.index !== text.index) continue;
    for (const r of rs.entries) {
      const at = Number(r.offset);
      const sym = rs.symbols[r.symbol];
      if (r.type !== R_BPF_64_32 || at % 8 !== 0 || at + 8 > code.byteLength || code[at] !== 0x85) continue;
      if (!sym || sym.shndx !== text.index || sym.type !== STT_FUNC) {
        throw new UsageError(
          "E_PLUGIN_ELF",
          `call at ${text.name}+${at} to '${sym?.name ?? r.symbol}' outside its section`,
        );
      }
      code[at + 1] = (code[at + 1] & 0x0f) | 0x10; // src = BPF_PSEUDO_CALL
      view.setInt32(at + 4, Number(sym.value) / 8 - (at / 8 + 1), true);
    }
  }
  const insns = decodeProgram(code, text.name);
  const xdp = text.name === "xdp" || text.name.startsWith("xdp/") || text.name.startsWith("xdp.");
  return { insns, entry: start / 8, xdp };
}

function decodeProgram(bytes: Uint8Array, what: string): Instruction[] {
  if (bytes.byteLength % 8 !== 0) {
    throw new UsageError(
      "E_PLUGIN_PROGRAM",
      `${what}: ${bytes.byteLength} bytes is not a whole number of instructions`,
    );
  }
  if (bytes.byteLength === 0) throw new UsageError("E_PLUGIN_PROGRAM", `${what}: no instructions`);
  return decode(bytes, "le");
}

/** Run the plugin on its arguments and the stdin text; returns the exit code. */
export function runPlugin(args: readonly string[], stdin: string, io: CliIo = defaultIo()): ExitCodeValue {
  try {
    let memHex: string | undefined;
    let elf = false;
    let xdp = false;
    for (const a of args) {
      const t = a.trim();
      if (t.startsWith("--")) {
        // the runner passes its plugin options as one argument ("--elf --x"), empty when none
        for (const opt of t.split(/\s+/)) {
          if (opt === "--elf") elf = true;
          else if (opt === "--xdp") xdp = true;
        }
      } else if (memHex === undefined) {
        memHex = a;
      } else if (t !== "") {
        throw new UsageError("E_PLUGIN_USAGE", `unexpected argument '${a}'`);
      }
    }
    const mem = parseHexBytes(memHex ?? "", "memory");
    const code = parseHexBytes(stdin, "program");
    const prog = elf ? programFromElf(code) : { insns: decodeProgram(code, "program"), entry: 0, xdp: false };
    const { r0 } = runConformance(prog.insns, mem, { entry: prog.entry, xdp: xdp || prog.xdp });
    io.stdout(`${r0.toString(16)}\n`);
    return ExitCode.Ok;
  } catch (e) {
    // The runner reads a failing plugin's stdout as its error text, so the message goes there.
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof VmFault) {
      io.stdout(`${message}\n`);
      return ExitCode.Failed;
    }
    if (isTsbpfError(e)) {
      io.stdout(`${message}\n`);
      return ExitCode.BadInput;
    }
    io.stdout(`internal error: ${message}\n`);
    return ExitCode.Failed;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString("latin1");
}

/** Entry point of bin/tsbpf-conformance-plugin.js. */
export async function pluginMain(argv: readonly string[]): Promise<number> {
  return runPlugin(argv.slice(2), await readStdin());
}
