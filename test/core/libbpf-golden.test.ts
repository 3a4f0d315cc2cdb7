/**
 * Our CO-RE decisions against libbpf 1.1.2's for the same objects and the same kernel BTF: for
 * every CO-RE fixture libbpf loads, the logs capture.sh kept (test/fixtures/golden/core/) are
 * compared record by record with relocate(openObject(obj), vmlinux): the local spec, each
 * candidate's spec and verdict, the patched instruction (number, class, old and new value, load
 * size change) or its poisoning, and the candidate lists per local type. The goldens only hold
 * for the BTF they were captured against, so the test runs only when /sys/kernel/btf/vmlinux has
 * the SHA-256 recorded in vmlinux.txt.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { btfFromBytes } from "../../src/elf/btf/load.js";
import {
  CORE_POISON_HELPER,
  coreContext,
  findCandidates,
  formatCoreResult,
  relocate,
} from "../../src/elf/core/index.js";
import { openObject } from "../../src/elf/object/open.js";
import { imm64, OP_LD_IMM64, slotOffsets } from "../../src/isa/instruction.js";
import { compareRelo, parseGoldenLog } from "./golden-log.js";

const ROOT = join(import.meta.dirname, "..", "..");
const GOLD = join(ROOT, "test", "fixtures", "golden", "core");
const VMLINUX = "/sys/kernel/btf/vmlinux";

function skipReason(): string | undefined {
  if (!existsSync(VMLINUX)) return `${VMLINUX} does not exist`;
  const want = /^vmlinux-sha256: ([0-9a-f]{64})$/m.exec(readFileSync(join(GOLD, "vmlinux.txt"), "utf8"))?.[1];
  const have = createHash("sha256").update(readFileSync(VMLINUX)).digest("hex");
  if (want !== have) {
    return `the goldens were captured against vmlinux BTF ${want}, this kernel's is ${have} (rerun capture.sh)`;
  }
  return undefined;
}
const reason = skipReason();
if (reason) console.warn(`SKIP CO-RE libbpf golden comparison: ${reason}`);

const logs = readdirSync(GOLD)
  .filter((f) => f.endsWith(".log"))
  .sort();

describe.skipIf(reason !== undefined)("CO-RE decisions equal libbpf 1.1.2's (vmlinux goldens)", () => {
  const vmlinuxBytes = reason ? new Uint8Array() : new Uint8Array(readFileSync(VMLINUX));
  const target = reason ? undefined : btfFromBytes(vmlinuxBytes, { file: VMLINUX });
  let compared = 0;
  let equal = 0;

  it("covers every loading CO-RE fixture", () => {
    const loads = JSON.parse(readFileSync(join(ROOT, "test/fixtures/golden/libbpf-load.json"), "utf8")) as {
      object: string;
      loads: boolean;
    }[];
    const want = loads
      .filter((e) => e.loads && /\/core[._][^/]*\.o$/.test(e.object))
      .map((e) => `${e.object.split("/").pop()!.replace(/\.o$/, "")}.log`)
      .sort();
    expect(logs).toEqual(want);
    expect(logs.length).toBeGreaterThanOrEqual(16);
  });

  for (const log of logs) {
    const base = log.replace(/\.log$/, "");
    it(`${base}: every record as libbpf decided`, async () => {
      const golden = parseGoldenLog(join(GOLD, log));
      const spec = await openObject(join(ROOT, "test/fixtures/obj", `${base}.o`));
      const { spec: relocated, results } = relocate(spec, target!);

      // The same records: libbpf's section counts are ours.
      const perSection = new Map<string, number>();
      for (const sec of spec.btfExt?.coreRelos ?? []) perSection.set(sec.section, sec.records.length);
      expect(perSection).toEqual(golden.sections);

      const diffs: string[] = [];
      for (const g of golden.relos) {
        const ours = results.filter((r) => r.function === g.prog && r.reloIndex === g.relo);
        const d = compareRelo(g, ours);
        compared++;
        if (d.length === 0) equal++;
        diffs.push(...d);
      }
      // No result of ours that libbpf did not report.
      const known = new Set(golden.relos.map((g) => `${g.prog}#${g.relo}`));
      for (const r of results) {
        if (!known.has(`${r.function}#${r.reloIndex}`))
          diffs.push(`extra result ${r.function} #${r.reloIndex}`);
      }
      expect(diffs).toEqual([]);

      // Our log lines are libbpf's (per record; the order of an ld_imm64's two poisoned slots
      // differs between libbpf builds).
      const lines = readFileSync(join(GOLD, log), "utf8")
        .split("\n")
        .filter((l) => / relo #\d+: /.test(l))
        .map((l) => l.replace(/^libbpf: /, ""));
      for (const g of golden.relos) {
        const r = results.find((x) => x.function === g.prog && x.reloIndex === g.relo)!;
        const want = lines.filter((l) => l.startsWith(`prog '${g.prog}': relo #${g.relo}: `)).sort();
        expect(formatCoreResult(r).sort()).toEqual(want);
      }

      // The candidate lists per local type.
      const ctx = coreContext(spec.btf!, target!);
      for (const [local, ids] of golden.candidates) {
        expect(findCandidates(ctx.local, local, ctx.target), `candidates of [${local}]`).toEqual(ids);
      }

      // The relocated programs hold the new values where the results say so.
      for (const r of results) {
        const prog = relocated.program(r.program);
        const slots = slotOffsets(prog.insns);
        const at = slots.indexOf(r.slot);
        const insn = prog.insns[at];
        if (r.outcome === "poisoned") {
          expect(insn.opcode).toBe(0x85);
          expect(insn.imm).toBe(CORE_POISON_HELPER);
        } else if (r.insnClass === "LDIMM64") {
          expect(insn.opcode).toBe(OP_LD_IMM64);
          expect(imm64(insn)).toBe(r.newValue);
        } else if (r.insnClass === "LDX/ST/STX") {
          expect(BigInt(insn.off)).toBe(r.newValue);
        } else {
          expect(BigInt.asUintN(32, BigInt(insn.imm))).toBe(BigInt.asUintN(32, r.newValue!));
        }
        expect(slotOffsets(prog.insns).length > 0).toBe(true);
      }
      for (const p of spec.programs) {
        const before = slotOffsets(p.insns);
        const after = slotOffsets(relocated.program(p.name).insns);
        const count = (insns: typeof p.insns, offs: number[]): number =>
          insns.length === 0
            ? 0
            : offs[offs.length - 1] + (insns[insns.length - 1].opcode === OP_LD_IMM64 ? 2 : 1);
        expect(count(relocated.program(p.name).insns, after)).toBe(count(p.insns, before));
      }
    });
  }

  it('programs that do not load (SEC("?...")) do not narrow the candidates of those that do', async () => {
    // core_multi's multi_enter narrows struct console to the big console (it has `name`), so
    // multi_exit's console.list reads as missing (libbpf agreed above). Without multi_enter,
    // both consoles are candidates, the small one has `list`, and the size is the small one's.
    const spec = await openObject(join(ROOT, "test/fixtures/obj/core_multi.el.v3.o"));
    const off = {
      ...spec,
      programs: spec.programs.map((p) => ({ ...p, autoload: p.name !== "multi_enter" })),
    };
    const exit = relocate(off, target!).results.filter((r) => r.program === "multi_exit");
    expect(exit.map((r) => [r.localSpec, r.newValue])).toEqual([
      ["struct console.list", 1n],
      ["struct console", 40n],
    ]);
  });

  it("agreement summary", () => {
    console.log(`CO-RE vs libbpf 1.1.2: ${equal} of ${compared} relocation records equal`);
    expect(compared).toBeGreaterThan(0);
    expect(equal).toBe(compared);
  });
});
