import { readFileSync } from "node:fs";
import { Command } from "commander";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { registerVerify } from "../../src/cli/commands/verify.js";
import { captureIo } from "../../src/cli/io.js";
import { openObjectSync } from "../../src/elf/object/open.js";
import { type Instruction, insn } from "../../src/isa/instruction.js";
import { verifyFilesUnprivileged } from "../../src/loader/kernel-verify.js";
import { unprivilegedOracleUnavailable, withUnprivilegedBpf } from "../../src/loader/unprivileged.js";
import { kernelVerify, kernelVerifyUnprivileged, rawJobOf } from "../../src/verifier/kernel.js";
import { verifyProgram } from "../../src/verifier/verify.js";
import { meaningfulLine } from "../fixtures/verifier-corpus/golden.js";
import { readUnprivGoldens, type UnprivVerdict } from "../fixtures/verifier-unpriv/golden.js";
import { arbProgram } from "./generate.js";
import { arbPointerProgram, cgroupSkbOf, socketFilterOf } from "./generate-unpriv.js";

/**
 * The offline verifier's unprivileged rules (VerifyOptions.unprivileged) against the kernel 6.18
 * goldens of test/fixtures/verifier-unpriv, captured as root and as an unprivileged user.
 */

const lastLine = (m: string): string => m.trimEnd().split("\n").pop() ?? "";

interface Row {
  readonly id: string;
  readonly kernel: UnprivVerdict;
  readonly ours: ReturnType<typeof verifyProgram>;
}

function run(unprivileged: boolean): Row[] {
  const rows: Row[] = [];
  for (const g of readUnprivGoldens()) {
    const obj = openObjectSync(new Uint8Array(readFileSync(g.object)), { file: g.object });
    for (const p of g.programs) {
      const ours = verifyProgram(obj, obj.program(p.name), { logLevel: 0, unprivileged });
      rows.push({ id: `${g.name}/${p.name}`, kernel: unprivileged ? p.unprivileged : p.root, ours });
    }
  }
  return rows;
}

function figures(rows: readonly Row[]): Record<string, number> {
  const f = {
    programs: rows.length,
    agree: 0,
    falseAccepts: 0,
    falseRejects: 0,
    notModelled: 0,
    rejectsBoth: 0,
  };
  const g = { sameMessage: 0, sameInsn: 0, processedExact: 0 };
  for (const r of rows) {
    if (r.ours.error && !r.ours.error.modelled) f.notModelled++;
    if (r.ours.verdict === r.kernel.verdict) f.agree++;
    else if (r.ours.verdict === "accept") f.falseAccepts++;
    else f.falseRejects++;
    if (r.ours.verdict === "reject" && r.kernel.verdict === "reject") {
      f.rejectsBoth++;
      if (lastLine(r.ours.error!.message) === r.kernel.error!.message) g.sameMessage++;
      if (r.kernel.error!.insn === null || r.kernel.error!.insn === r.ours.error!.insn) g.sameInsn++;
    }
    if (r.kernel.processedInsns !== null && r.kernel.processedInsns === r.ours.processedInsns)
      g.processedExact++;
  }
  return { ...f, ...g };
}

describe("unprivileged verifier vs kernel 6.18 goldens (test/fixtures/verifier-unpriv)", () => {
  it("has fixtures covering accepts and rejects", () => {
    const gs = readUnprivGoldens();
    expect(gs.length).toBeGreaterThanOrEqual(12);
    const progs = gs.flatMap((g) => g.programs);
    expect(progs.some((p) => p.unprivileged.verdict === "accept")).toBe(true);
    expect(progs.filter((p) => p.unprivileged.verdict === "reject").length).toBeGreaterThanOrEqual(12);
    // every fixture loads as root
    expect(progs.filter((p) => p.root.verdict !== "accept").map((p) => p.name)).toEqual([]);
  });

  it("agrees with the unprivileged kernel: verdict, message, instruction", () => {
    const rows = run(true);
    console.log(JSON.stringify({ unprivileged: figures(rows) }));
    const wrong: string[] = [];
    const processed: string[] = [];
    for (const r of rows) {
      const k = r.kernel;
      const o = r.ours;
      const msg = o.error ? lastLine(o.error.message) : undefined;
      const same =
        o.verdict === k.verdict &&
        (k.verdict === "accept" ||
          (msg === k.error!.message && (k.error!.insn === null || k.error!.insn === o.error!.insn)));
      if (!same)
        wrong.push(
          `${r.id}: kernel ${k.verdict}@${k.error?.insn} ${k.error?.message ?? ""} | ours ${o.verdict}@${o.error?.insn} ${msg ?? ""}`,
        );
      // speculative paths (Spectre v1) and stricter pruning count in `processed`
      if (o.processedInsns !== k.processedInsns && k.processedInsns !== null)
        processed.push(`${r.id}: kernel ${k.processedInsns} ours ${o.processedInsns}`);
    }
    expect(wrong).toEqual([]);
    expect(processed).toEqual([]);
  });

  it("the same fixtures judged as root are all accepted (the privileged rules are unchanged)", () => {
    const rows = run(false);
    console.log(JSON.stringify({ root: figures(rows) }));
    expect(
      rows.filter((r) => r.ours.verdict !== "accept").map((r) => `${r.id}: ${r.ours.error?.message}`),
    ).toEqual([]);
  });
});

// ------------------------------------------------------------------ live: the unprivileged kernel

const liveWhy = unprivilegedOracleUnavailable();
const SYSCTL = "/proc/sys/kernel/unprivileged_bpf_disabled";

describe.skipIf(liveWhy !== undefined)(
  `unprivileged kernel, live${liveWhy ? ` (skipped: ${liveWhy})` : ""}`,
  () => {
    it("at log level 0 the reported reason is still the verifier's line (the failed load is retried with a log)", async () => {
      const gs = readUnprivGoldens();
      const reports = await verifyFilesUnprivileged(gs.map((g) => ({ file: g.object, logLevel: 0 })));
      const wrong: string[] = [];
      gs.forEach((g, k) => {
        g.programs.forEach((p, j) => {
          const live = reports[k]!.programs[j]!;
          const golden = p.unprivileged;
          // refusals before the verifier have no verifier line: their reason is the loader's
          if (!golden.error || !golden.log1) return;
          if (live.error?.message !== golden.error.message)
            wrong.push(`${g.name}/${p.name}: golden ${golden.error.message} live ${live.error?.message}`);
        });
      });
      expect(wrong).toEqual([]);
    }, 120_000);
    it("re-loading the fixtures as nobody gives the goldens' verdicts and messages; the sysctl is restored", async () => {
      const before = readFileSync(SYSCTL, "utf8");
      const gs = readUnprivGoldens();
      const reports = await verifyFilesUnprivileged(gs.map((g) => ({ file: g.object, logLevel: 1 })));
      expect(readFileSync(SYSCTL, "utf8")).toBe(before);
      const wrong: string[] = [];
      gs.forEach((g, k) => {
        g.programs.forEach((p, j) => {
          const live = reports[k]!.programs[j]!;
          const msg = live.error
            ? (live.log ? meaningfulLine(live.log) : "") || live.error.message
            : undefined;
          if (live.verdict !== p.unprivileged.verdict || msg !== p.unprivileged.error?.message)
            wrong.push(`${g.name}/${p.name}: golden ${p.unprivileged.error?.message} live ${msg}`);
        });
      });
      expect(wrong).toEqual([]);
    }, 120_000);

    it("the sysctl is restored when the work fails", async () => {
      const before = readFileSync(SYSCTL, "utf8");
      await expect(
        withUnprivilegedBpf(async () => {
          expect(readFileSync(SYSCTL, "utf8").trim()).toBe("0");
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect(readFileSync(SYSCTL, "utf8")).toBe(before);
    });

    it("tsbpf verify --kernel --unprivileged: the kernel's unprivileged verdict in the offline JSON shape", async () => {
      const io = captureIo();
      const program = new Command().exitOverride();
      registerVerify(program, io);
      const file = "test/fixtures/verifier-unpriv/obj/unpriv_helper_trace_printk.o";
      await program.parseAsync([
        "node",
        "tsbpf",
        "verify",
        "--kernel",
        "--unprivileged",
        "--format",
        "json",
        file,
      ]);
      const j = JSON.parse(io.out);
      const g = readUnprivGoldens().find((x) => x.object === file)!;
      expect(j.programs[0].verdict).toBe("reject");
      expect(j.programs[0].error.message).toBe(g.programs[0]!.unprivileged.error!.message);
      expect(io.exitCode).toBe(1);
    }, 60_000);

    it("generated programs judged unprivileged: never accepted by us when the unprivileged kernel rejects them", async () => {
      const before = readFileSync(SYSCTL, "utf8");
      const programs = [
        ...fc.sample(arbUnprivProgram, { numRuns: 500, seed: 66 }),
        ...fc.sample(arbPointerProgram, { numRuns: 500, seed: 67 }),
      ];
      // the pointer programs also as cgroup_skb (another context, helper table and return range)
      const cgroup = fc.sample(arbPointerProgram, { numRuns: 300, seed: 68 });
      const all = [...programs, ...cgroup];
      const specOf = (k: number): ReturnType<typeof socketFilterOf> =>
        k < programs.length ? socketFilterOf(all[k]!) : cgroupSkbOf(all[k]!);
      const jobs = all.map((_, k) => {
        const { obj, prog } = specOf(k);
        return rawJobOf(obj, prog, 1);
      });
      const kernel = await kernelVerifyUnprivileged(jobs);
      expect(readFileSync(SYSCTL, "utf8")).toBe(before);
      const stats = {
        n: 0,
        agree: 0,
        falseAccepts: 0,
        falseRejects: 0,
        rejectsBoth: 0,
        sameMessage: 0,
        sameInsn: 0,
        processedExact: 0,
        notModelled: 0,
      };
      const bad: string[] = [];
      all.forEach((insns, k) => {
        const k1 = kernel[k]!;
        expect(k1.loadError).toBeUndefined();
        const { obj, prog } = specOf(k);
        const ours = verifyProgram(obj, prog, { logLevel: 0, unprivileged: true, maxMillis: 5000 });
        if (ours.error && !ours.error.modelled) {
          stats.notModelled++;
          return;
        }
        stats.n++;
        if (ours.processedInsns === k1.processedInsns) stats.processedExact++;
        if (ours.verdict === k1.verdict) stats.agree++;
        else if (ours.verdict === "accept") {
          stats.falseAccepts++;
          bad.push(`${JSON.stringify(insns)} kernel: ${k1.message}`);
        } else stats.falseRejects++;
        if (ours.verdict === "reject" && k1.verdict === "reject") {
          stats.rejectsBoth++;
          if (lastLine(ours.error!.message) === lastLine(k1.message ?? "")) stats.sameMessage++;
          if (ours.error!.insn === k1.insn) stats.sameInsn++;
          else
            console.log(
              `message: kernel ${k1.message} @${k1.insn} | ours ${ours.error!.message} @${ours.error!.insn}`,
            );
        }
      });
      console.log(JSON.stringify({ generatedUnprivileged: stats }));
      expect(bad).toEqual([]);
      expect(stats.n).toBeGreaterThan(1200);
    }, 300_000);
  },
);

/**
 * test/verifier/generate.ts's XDP programs made socket filters: the three context loads read skb
 * fields (len, pkt_type, queue_mapping: plain numbers) or, in half of them, r2 and r3 become
 * frame pointers, so the "packet" blocks do stack pointer arithmetic, pointer comparisons and
 * uninitialised stack reads, which the unprivileged rules judge.
 */
const arbUnprivProgram: fc.Arbitrary<Instruction[]> = fc
  .tuple(arbProgram, fc.boolean())
  .map(([insns, stack]) => {
    const out = [...insns];
    if (stack) {
      out[0] = insn(0xbf, 2, 10);
      out[1] = insn(0xbf, 3, 10);
    }
    return out;
  });

describe.skipIf(process.getuid?.() !== 0)(
  "pointer-heavy socket filters as root (the privileged rules they exercise)",
  () => {
    it("never accepted by us when the root kernel rejects them", () => {
      const stats = { n: 0, agree: 0, falseAccepts: 0, rejectsBoth: 0, sameMessage: 0 };
      const bad: string[] = [];
      for (const insns of fc.sample(arbPointerProgram, { numRuns: 1500, seed: 5 })) {
        const { obj, prog } = socketFilterOf(insns);
        const k = kernelVerify(obj, prog);
        expect(k.loadError).toBeUndefined();
        const ours = verifyProgram(obj, prog, { logLevel: 0, maxMillis: 5000 });
        if (ours.error && !ours.error.modelled) continue;
        stats.n++;
        if (ours.verdict === k.verdict) stats.agree++;
        else if (ours.verdict === "accept") {
          stats.falseAccepts++;
          bad.push(`${JSON.stringify(insns)} kernel: ${k.message}`);
        }
        if (ours.verdict === "reject" && k.verdict === "reject") {
          stats.rejectsBoth++;
          if (lastLine(ours.error!.message) === lastLine(k.message ?? "")) stats.sameMessage++;
        }
      }
      console.log(JSON.stringify({ pointerProgramsRoot: stats }));
      expect(bad).toEqual([]);
    }, 300_000);
  },
);
