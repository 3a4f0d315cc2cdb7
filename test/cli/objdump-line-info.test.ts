/**
 * `objdump -d --line-info` against what bpftool itself prints (`prog dump xlated linum`) for the
 * same programs, captured in test/fixtures/golden/libbpf-objects. The kernel removes dead code
 * before bpftool sees it, so the kernel's lines must be a subsequence of ours, in order.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openObjectSync } from "../../src/elf/object/index.js";
import { readElf } from "../../src/elf/reader.js";
import { disassemble } from "../../src/isa/disasm.js";

const ROOT = join(import.meta.dirname, "..", "..");
const GOLDEN = join(ROOT, "test/fixtures/golden/libbpf-objects");

interface GoldenProgram {
  readonly name: string;
  readonly funcs: readonly string[];
  readonly lines: ReadonlyArray<readonly [number, number | null, string]>;
}

const LINE = /^; (.*) \[file:(.*) line_num:(\d+) line_col:(\d+)\]$/;

/** Our --line-info lines per section: [line, column, text]. */
function ourLines(text: string): Map<string, Array<[number, number, string]>> {
  const out = new Map<string, Array<[number, number, string]>>();
  let current: Array<[number, number, string]> = [];
  for (const l of text.split("\n")) {
    const sec = /^Disassembly of section (.*):$/.exec(l);
    if (sec) {
      current = [];
      out.set(sec[1], current);
      continue;
    }
    const m = LINE.exec(l);
    if (m) current.push([Number(m[3]), Number(m[4]), m[1]]);
  }
  return out;
}

function isSubsequence<N, H>(needle: readonly N[], hay: readonly H[], eq: (a: N, b: H) => boolean): boolean {
  let i = 0;
  for (const h of hay) if (i < needle.length && eq(needle[i], h)) i++;
  return i === needle.length;
}

const objects = readdirSync(GOLDEN).filter((f) => f.endsWith(".json"));

describe("objdump --line-info", () => {
  it("has goldens to compare with", () => {
    expect(objects.length).toBeGreaterThan(20);
  });

  let compared = 0;
  for (const f of objects) {
    it(f.replace(/\.json$/, ""), () => {
      const golden = JSON.parse(readFileSync(join(GOLDEN, f), "utf8")) as {
        object: string;
        programs: GoldenProgram[];
      };
      const bytes = readFileSync(join(ROOT, golden.object));
      const spec = openObjectSync(bytes, { file: golden.object });
      const ours = ourLines(disassemble(readElf(bytes), { path: golden.object, btfLineInfo: true }));
      for (const p of golden.programs) {
        const prog = spec.programs.find((q) => q.name === p.name);
        expect(prog, p.name).toBeDefined();
        // Only whole sections holding this one program and no subprograms compare in order.
        if (p.funcs.length !== 1 || spec.programs.filter((q) => q.section === prog!.section).length !== 1)
          continue;
        const mine = ours.get(prog!.section) ?? [];
        const eq = (g: readonly [number, number | null, string], o: readonly [number, number, string]) =>
          g[0] === o[0] && (g[1] ?? 0) === o[1] && g[2] === o[2];
        expect(isSubsequence(p.lines, mine, eq), `${p.name}: kernel lines not found in order`).toBe(true);
        expect(eq(p.lines[0], mine[0]), `${p.name}: first line`).toBe(true);
        compared++;
      }
    });
  }

  it("compared a fair number of programs", () => {
    expect(compared).toBeGreaterThan(30);
  });
});
