// verifyWithKernel (`verify --kernel`) against libbpf 1.1.2's own load results
// (test/fixtures/golden/libbpf-load.json): the same verdict for every fixture libbpf loads, and
// for the deliberately rejected ones the same verifier line libbpf logged.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { openObjectSync } from "../../src/elf/object/open.js";
import { formatVerifyReport, verifyWithKernel } from "../../src/loader/kernel-verify.js";
import { probeBpf } from "../../src/loader/probe.js";

const probe = probeBpf();
if (!probe.ok) console.warn(`SKIP verify --kernel tests: ${probe.reason}`);
const kit = probe.ok ? it : it.skip;

interface Golden {
  readonly object: string;
  readonly loads: boolean;
  readonly error: string | null;
}
const golden: readonly Golden[] = JSON.parse(readFileSync("test/fixtures/golden/libbpf-load.json", "utf8"));
const open = (f: string) => openObjectSync(new Uint8Array(readFileSync(f)), { file: f });

describe("verifyWithKernel", () => {
  kit(
    "accepts every program of every fixture libbpf 1.1.2 loads",
    async () => {
      const loads = golden.filter((g) => g.loads);
      expect(loads.length).toBeGreaterThan(60);
      for (const g of loads) {
        const r = await verifyWithKernel(open(g.object));
        expect(r.file).toBe(g.object);
        for (const p of r.programs) expect(p, `${g.object} ${p.name}`).toMatchObject({ verdict: "accept" });
      }
    },
    120_000,
  );

  kit(
    "rejects what libbpf's load rejected, with the same verifier line and its instruction",
    async () => {
      const rejects = golden.filter((g) => !g.loads && g.object.includes("/reject/"));
      expect(rejects.length).toBeGreaterThan(0);
      for (const g of rejects) {
        const r = await verifyWithKernel(open(g.object));
        const bad = r.programs.filter((p) => p.verdict === "reject");
        expect(bad.length, g.object).toBeGreaterThan(0);
        if (g.object.includes(".eb.")) continue;
        expect(
          bad.map((p) => p.error?.message),
          g.object,
        ).toContain(g.error);
        for (const p of bad) {
          expect(p.error?.insn, `${g.object}: insn`).toEqual(expect.any(Number));
          expect(p.processedInsns).toEqual(expect.any(Number));
        }
      }
    },
    60_000,
  );

  kit("big-endian objects are rejects that say why, as libbpf's endianness mismatch", async () => {
    const r = await verifyWithKernel(open("test/fixtures/obj/xdp_parse.eb.v1.o"));
    expect(r.programs[0]).toMatchObject({ verdict: "reject", error: { insn: null } });
    expect(r.programs[0]!.error!.message).toMatch(/big-endian/);
  });

  kit("--log-level keeps the log and the processed count; --program picks one", async () => {
    const r = await verifyWithKernel(open("test/fixtures/obj/tailcall.el.v1.o"), { logLevel: 2 });
    for (const p of r.programs) {
      expect(p.log).toMatch(/processed \d+ insns/);
      expect(p.processedInsns).toBeGreaterThan(0);
    }
    const one = await verifyWithKernel(open("test/fixtures/obj/tailcall.el.v1.o"), {
      programs: [r.programs[0]!.name],
    });
    expect(one.programs.map((p) => p.name)).toEqual([r.programs[0]!.name]);
    expect(formatVerifyReport(one)).toContain(": accept");
    // level 0: no log, yet the same count (bpf_prog_info.verified_insns)
    expect(one.programs[0]!.log).toBeUndefined();
    expect(one.programs[0]!.processedInsns).toBe(r.programs[0]!.processedInsns);
    await expect(
      verifyWithKernel(open("test/fixtures/obj/tailcall.el.v1.o"), { programs: ["nope"] }),
    ).rejects.toThrow(/no program 'nope'/);
  });
});
