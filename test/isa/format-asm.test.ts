/**
 * formatAsm writes LLVM's assembly syntax; the properties here are the ones users rely on:
 * llvm-mc-19 assembles the text to exactly the bytes of the instructions (raw `.byte` lines
 * included), and the project's assembler reads it back to the same instructions.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readElf } from "../../src/elf/reader.js";
import { assemble } from "../../src/isa/asm/index.js";
import { decode, encode } from "../../src/isa/codec.js";
import { llvmCanonical } from "../../src/isa/format.js";
import { formatAsm } from "../../src/isa/format-asm.js";
import { type ByteOrder, type Instruction, insnWidth } from "../../src/isa/instruction.js";

const ROOT = join(import.meta.dirname, "..", "..");

function haveLlvmMc(): boolean {
  try {
    execFileSync("llvm-mc-19", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const LLVM_MC = haveLlvmMc();
if (!LLVM_MC) console.warn("format-asm.test: llvm-mc-19 not found, the llvm-mc round trips are skipped");

/** Assemble with llvm-mc-19 and return the bytes of each named section. */
function llvmMc(text: string, order: ByteOrder, sections: readonly string[]): Uint8Array[] {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-asm-"));
  try {
    writeFileSync(join(dir, "in.s"), text);
    execFileSync(
      "llvm-mc-19",
      [
        "-triple",
        order === "le" ? "bpfel" : "bpfeb",
        "-filetype=obj",
        join(dir, "in.s"),
        "-o",
        join(dir, "out.o"),
      ],
      { stdio: "pipe" },
    );
    const elf = readElf(readFileSync(join(dir, "out.o")));
    return sections.map((s) => elf.section(s)?.data ?? new Uint8Array(0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

// ---- generators -------------------------------------------------------------------------

const anySlot = fc.record({
  opcode: fc.integer({ min: 0, max: 255 }),
  dst: fc.oneof(fc.integer({ min: 0, max: 11 }), fc.integer({ min: 0, max: 15 })),
  src: fc.oneof(fc.integer({ min: 0, max: 11 }), fc.integer({ min: 0, max: 15 })),
  off: fc.oneof(fc.constantFrom(0, 0, 1, 8, 16, 32, -1), fc.integer({ min: -0x8000, max: 0x7fff })),
  imm: fc.oneof(
    fc.constantFrom(0, 1, -1, 16, 32, 64, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1, 0x40, 0x50, 0xa0),
    fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  ),
  hi: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
});

/** An instruction with arbitrary fields (often with no LLVM form). */
const rawInsn = anySlot.map(
  (s): Instruction =>
    s.opcode === 0x18
      ? {
          opcode: s.opcode,
          dst: s.dst,
          src: s.src,
          off: s.off,
          imm: s.imm,
          wide: { opcode: 0, dst: 0, src: 0, off: 0, imm: s.hi },
        }
      : { opcode: s.opcode, dst: s.dst, src: s.src, off: s.off, imm: s.imm },
);

/** An instruction in the form LLVM prints and re-encodes unchanged. */
const canonicalInsn = rawInsn
  .map((i) => llvmCanonical(i, true))
  .filter(
    (i): i is Instruction => i !== undefined && !(i.opcode === 0x06 && (i.imm < -0x8000 || i.imm > 0x7fff)),
  );

type Item =
  | { readonly kind: "insn"; readonly insn: Instruction }
  | {
      readonly kind: "jump";
      readonly opcode: number;
      readonly dst: number;
      readonly src: number;
      readonly imm: number;
      readonly to: number;
    }
  | { readonly kind: "localCall"; readonly to: number }
  | { readonly kind: "refCall"; readonly symbol: string }
  | { readonly kind: "refLoad"; readonly dst: number; readonly symbol: string; readonly addend: number };

const symbol = fc.constantFrom("map", "helper_fn", "data.rodata", "bpf_kfunc", "counts");
const item = (allowRaw: boolean): fc.Arbitrary<Item> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: canonicalInsn.map((insn): Item => ({ kind: "insn", insn })),
    },
    { weight: allowRaw ? 3 : 0, arbitrary: rawInsn.map((insn): Item => ({ kind: "insn", insn })) },
    {
      weight: 3,
      arbitrary: fc
        .record({
          opcode: fc.constantFrom(0x05, 0x06, 0xe5, 0x15, 0x1d, 0x16, 0x1e, 0xa5, 0xbd, 0xce, 0x6e),
          dst: fc.integer({ min: 0, max: 10 }),
          src: fc.integer({ min: 0, max: 10 }),
          imm: fc.integer({ min: -1000, max: 1000 }),
          to: fc.nat(),
        })
        .map((j): Item => ({ kind: "jump", ...j })),
    },
    { weight: 1, arbitrary: fc.nat().map((to): Item => ({ kind: "localCall", to })) },
    { weight: 1, arbitrary: symbol.map((s): Item => ({ kind: "refCall", symbol: s })) },
    {
      weight: 1,
      arbitrary: fc
        .record({ dst: fc.integer({ min: 0, max: 10 }), symbol, addend: fc.integer({ min: -64, max: 64 }) })
        .map((r): Item => ({ kind: "refLoad", ...r })),
    },
  );

/** Build the instruction list, resolving jump/call targets to instruction boundaries. */
function build(items: readonly Item[]): Instruction[] {
  const widths = items.map((it) =>
    it.kind === "refLoad" || (it.kind === "insn" && insnWidth(it.insn) === 2) ? 2 : 1,
  );
  const starts: number[] = [];
  let n = 0;
  for (const w of widths) {
    starts.push(n);
    n += w;
  }
  starts.push(n);
  return items.map((it, i): Instruction => {
    switch (it.kind) {
      case "insn":
        return it.insn;
      case "jump": {
        const rel = starts[it.to % starts.length] - starts[i] - 1;
        const x = (it.opcode & 8) !== 0;
        const cond = it.opcode !== 0x05 && it.opcode !== 0x06 && it.opcode !== 0xe5;
        if (it.opcode === 0x06) return { opcode: 0x06, dst: 0, src: 0, off: 0, imm: rel };
        return {
          opcode: it.opcode,
          dst: cond ? it.dst : 0,
          src: cond && x ? it.src : 0,
          off: rel,
          imm: cond && !x ? it.imm : 0,
        };
      }
      case "localCall":
        return { opcode: 0x85, dst: 0, src: 1, off: 0, imm: starts[it.to % starts.length] - starts[i] - 1 };
      case "refCall":
        return { opcode: 0x85, dst: 0, src: 1, off: 0, imm: -1, ref: { kind: "extern", symbol: it.symbol } };
      case "refLoad":
        return {
          opcode: 0x18,
          dst: it.dst,
          src: 0,
          off: 0,
          imm: it.addend,
          // llvm-mc keeps a symbol's addend in the low word; the high word is 0.
          wide: { opcode: 0, dst: 0, src: 0, off: 0, imm: 0 },
          ref: { kind: "symbol", symbol: it.symbol },
        };
      default:
        throw new Error("unreachable");
    }
  });
}

const program = (allowRaw: boolean) => fc.array(item(allowRaw), { minLength: 1, maxLength: 40 }).map(build);

// ---- llvm-mc ----------------------------------------------------------------------------

describe.skipIf(!LLVM_MC)("formatAsm text assembled by llvm-mc-19", () => {
  for (const order of ["le", "be"] as const) {
    it(`gives the instructions' bytes back (${order}, random programs, raw fields included)`, () => {
      fc.assert(
        fc.property(fc.array(program(true), { minLength: 1, maxLength: 6 }), (progs) => {
          const names = progs.map((_, k) => `prog${k}`);
          const text = progs
            .map((insns, k) =>
              formatAsm(insns, {
                byteOrder: order,
                name: names[k],
                section: `sec${k}`,
                labelPrefix: `LBB${k}_`,
              }),
            )
            .join("");
          const got = llvmMc(
            text,
            order,
            progs.map((_, k) => `sec${k}`),
          );
          progs.forEach((insns, k) => {
            expect(hex(got[k])).toBe(hex(encode(insns, order)));
          });
        }),
        { numRuns: 15 },
      );
    });

    it(`gives the corpus's every-opcode program back (${order})`, () => {
      const obj = join(ROOT, `test/isa/disasm-corpus/obj/random.${order === "le" ? "el" : "eb"}.o`);
      const insns = decode(readElf(readFileSync(obj)).section("xdp")!.data, order);
      for (const list of [insns, insns.map((i) => llvmCanonical(i, true) ?? i)]) {
        const text = formatAsm(list, { byteOrder: order, name: "prog", section: "xdp" });
        const [got] = llvmMc(text, order, ["xdp"]);
        expect(hex(got)).toBe(hex(encode(list, order)));
      }
    });
  }
});

// ---- the project's assembler -------------------------------------------------------------

/** Fields that must survive, and the reference's symbol when there is one. */
function shape(i: Instruction): unknown {
  return { ...i, ref: i.ref === undefined ? undefined : "symbol" in i.ref ? i.ref.symbol : i.ref.map };
}

describe("formatAsm text read back by our assembler", () => {
  it("gives the same instructions (every LLVM form, labels, local calls, symbolic refs, raw slots)", () => {
    fc.assert(
      fc.property(program(true), fc.constantFrom<ByteOrder>("le", "be"), (fixed, order) => {
        const text = formatAsm(fixed, { byteOrder: order });
        const back = assemble(text, { syntax: "llvm", byteOrder: order });
        // Our assembler names a local-label callee as a reference; compare it without one.
        const norm = back.map((b, k) => (fixed[k]?.ref === undefined ? { ...b, ref: undefined } : b));
        expect(norm.map(shape)).toEqual(fixed.map(shape));
      }),
      { numRuns: 300 },
    );
  });
});
