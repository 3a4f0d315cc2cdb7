// Externs judged as libbpf patches them: kconfig values from a frozen .kconfig map (constants),
// typeless ksyms from /proc/kallsyms, a missing weak kfunc's address as 0 (bpf_ksym_exists).
// Expected verdicts and processed counts are the kernel's (test/fixtures/verifier/goldens.json).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { openObject } from "../../src/elf/object/index.js";
import type { Golden } from "../../src/verifier/diff.js";
import { verifyProgram } from "../../src/verifier/verify.js";

const goldens: Golden[] = JSON.parse(readFileSync("test/fixtures/verifier/goldens.json", "utf8"));

describe("externs", () => {
  for (const file of ["test/fixtures/obj/kconfig.el.v3.o", "test/fixtures/obj/ksym.el.v3.o"]) {
    it(`${file}: the kernel's verdict and processed count`, async () => {
      const obj = await openObject(file);
      for (const p of obj.programs) {
        const g = goldens.find((x) => x.file === file && x.program === p.name);
        expect(g, `${file}:${p.name} golden`).toBeDefined();
        const r = verifyProgram(obj, p, { logLevel: 0 });
        expect({ verdict: r.verdict, processed: r.processedInsns }).toEqual({
          verdict: g!.verdict,
          processed: g!.processedInsns,
        });
      }
    });
  }
});
