/**
 * `tsbpf asm <in.s> -o <out.o> [--target bpfel|bpfeb] [--syntax llvm|conformance|objdump|auto]`:
 * assemble a text into a relocatable BPF ELF object, as `llvm-mc -triple bpfel -filetype=obj`.
 * Without -o, prints the instructions instead: hex, one per line, or JSON with --format json.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { writeElf } from "../../elf/writer.js";
import { UsageError } from "../../errors.js";
import { type AsmModule, type AsmSyntax, assembleModule } from "../../isa/asm/index.js";
import { encode } from "../../isa/codec.js";
import type { CliIo } from "../io.js";

const SYNTAXES: readonly AsmSyntax[] = ["llvm", "conformance", "objdump", "auto"];

export function registerAsm(program: Command, io: CliIo): void {
  program
    .command("asm")
    .description("assemble LLVM BPF assembly (or objdump / bpf_conformance syntax) into an ELF object")
    .argument("<input>", "assembly source file ('-' for stdin)")
    .option("-o, --output <file>", "write a relocatable ELF object here")
    .option("--target <target>", "bpfel (little-endian) or bpfeb (big-endian)", "bpfel")
    .option("--syntax <syntax>", "llvm, conformance, objdump or auto", "auto")
    .option("--format <format>", "without -o: text (hex, one instruction a line) or json", "text")
    .action((input: string, opts: { output?: string; target: string; syntax: string; format: string }) => {
      if (opts.format !== "text" && opts.format !== "json") {
        throw new UsageError("E_USAGE", `unknown format '${opts.format}' (text or json)`);
      }
      if (opts.target !== "bpfel" && opts.target !== "bpfeb") {
        throw new UsageError("E_USAGE", `unknown target '${opts.target}' (bpfel or bpfeb)`);
      }
      if (!(SYNTAXES as readonly string[]).includes(opts.syntax)) {
        throw new UsageError("E_USAGE", `unknown syntax '${opts.syntax}' (${SYNTAXES.join(", ")})`);
      }
      const text = readFileSync(input === "-" ? 0 : input, "utf8");
      const byteOrder = opts.target === "bpfel" ? "le" : "be";
      const module = assembleModule(text, {
        file: input,
        syntax: opts.syntax as AsmSyntax,
        byteOrder,
      });
      if (opts.output !== undefined) {
        writeFileSync(opts.output, writeElf(module));
        return;
      }
      if (opts.format === "json") {
        io.stdout(`${JSON.stringify(moduleJson(input, module), null, 2)}\n`);
        return;
      }
      for (const s of module.sections) {
        if (s.insns.length === 0) continue;
        io.stdout(`${s.name}:\n`);
        for (const i of s.insns) {
          const hex = [...encode([i], byteOrder)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
          io.stdout(`${hex}\n`);
        }
      }
    });
}

/** The module as JSON: each section's instructions (raw fields, symbolic refs) and relocations. */
function moduleJson(file: string, m: AsmModule): unknown {
  return {
    file,
    byteOrder: m.byteOrder,
    sections: m.sections.map((s) => ({
      name: s.name,
      size: s.size,
      instructions: s.insns.map((i, k) => ({ offset: s.insnOffsets[k], ...i })),
      relocations: s.relocations,
    })),
    symbols: m.symbols.map((y) => ({ ...y, value: y.value.toString(), size: y.size.toString() })),
  };
}
