/**
 * The ELF object writer: every assembly fixture, written by tsbpf, must list under
 * llvm-objdump-19 -d -r (and -t -r where the fixture has that golden) exactly as llvm-mc-19's
 * object from the same text does (goldens from test/fixtures/asm/build.sh). The structural
 * checks at the end need no LLVM tool.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readElf } from "../../src/elf/reader.js";
import { ELF, R_BPF } from "../../src/elf/types.js";
import { assembleObject, writeElf } from "../../src/elf/writer.js";
import { assembleModule } from "../../src/isa/asm/index.js";

const DIR = join(__dirname, "../fixtures/asm");
const OBJDUMP = process.env.OBJDUMP ?? "llvm-objdump-19";
const haveObjdump = spawnSync(OBJDUMP, ["--version"]).status === 0;
const tmp = mkdtempSync(join(tmpdir(), "tsbpf-writer-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function objdump(args: string[], bytes: Uint8Array, name: string): string {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  const r = spawnSync(OBJDUMP, [...args, path], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  // Drop the blank line and the "<path>:\tfile format elf64-bpf" line, as build.sh does.
  return r.stdout.split("\n").slice(2).join("\n");
}

describe.skipIf(!haveObjdump)(`writer output under ${OBJDUMP} equals llvm-mc's`, () => {
  for (const g of readdirSync(DIR).filter((f) => f.endsWith(".dr.txt"))) {
    const m = /^(.*)\.(el|eb)\.dr\.txt$/.exec(g);
    if (!m) continue;
    const [, base, target] = m;
    it(`${base} (${target})`, () => {
      const src = readFileSync(join(DIR, `${base}.s`), "utf8");
      const obj = assembleObject(src, { file: `${base}.s`, byteOrder: target === "el" ? "le" : "be" });
      expect(objdump(["-d", "-r"], obj, `${base}.${target}.o`)).toBe(readFileSync(join(DIR, g), "utf8"));
      const tr = join(DIR, `${base}.${target}.tr.txt`);
      let golden: string | undefined;
      try {
        golden = readFileSync(tr, "utf8");
      } catch {
        golden = undefined;
      }
      if (golden !== undefined) expect(objdump(["-t", "-r"], obj, `${base}.${target}.t.o`)).toBe(golden);
    });
  }
});

describe.skipIf(!haveObjdump)("objdump listings assembled back into objects list the same", () => {
  for (const g of readdirSync(DIR).filter((f) => f.endsWith(".dr.txt"))) {
    it(g, () => {
      const listing = readFileSync(join(DIR, g), "utf8");
      const obj = assembleObject(listing, { syntax: "objdump", byteOrder: g.includes(".eb.") ? "be" : "le" });
      // CO-RE lines come from .BTF.ext, which a listing does not carry.
      const expected = listing
        .split("\n")
        .filter((l) => !/^\s+[0-9a-f]+:\s+CO-RE /.test(l))
        .join("\n");
      expect(objdump(["-d", "-r"], obj, `${g}.o`)).toBe(expected);
    });
  }
});

if (!haveObjdump) {
  it.skip(`${OBJDUMP} not found: writer output not compared with llvm-mc goldens`, () => {});
}

describe("writer structure", () => {
  const src = readFileSync(join(DIR, "data.s"), "utf8");
  for (const order of ["le", "be"] as const) {
    it(`is a relocatable EM_BPF object our reader accepts (${order})`, () => {
      const elf = readElf(assembleObject(src, { byteOrder: order }));
      expect(elf.header.type).toBe(ELF.ET_REL);
      expect(elf.header.machine).toBe(ELF.EM_BPF);
      expect(elf.header.byteOrder).toBe(order);
      const names = elf.sections.map((s) => s.name);
      expect(names[1]).toBe(".strtab");
      expect(names[names.length - 1]).toBe(".symtab");
      expect(names).toContain(".relsocket/prog");
      const symtab = elf.section(".symtab");
      // sh_info: one past the last local symbol.
      const firstGlobal = elf.symbols.findIndex((s) => s.bind !== ELF.STB_LOCAL);
      expect(symtab?.info).toBe(firstGlobal);
      const rel = elf.relocations.find((r) => r.section.name === ".relsocket/prog");
      expect(rel?.target.name).toBe("socket/prog");
      const types = new Set(rel?.entries.map((e) => e.type));
      expect(types).toEqual(new Set([R_BPF["64_64"], R_BPF["64_32"]]));
      const bss = elf.section(".bss");
      expect(bss?.type).toBe(ELF.SHT_NOBITS);
      // bss_var (16 bytes), then the local commons sampled (4, aligned 4) and lc (2).
      expect(bss?.size).toBe(22);
    });
  }

  it("writes what the module says, byte for byte in the code", () => {
    const m = assembleModule("r0 = 1\nexit\n");
    const elf = readElf(writeElf(m));
    expect([...(elf.section(".text")?.data ?? [])]).toEqual([...(m.sections[0].data ?? [])]);
  });
});
