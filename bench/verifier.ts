/**
 * Offline verifier speed against the kernel's, measured in the same run: for every program of
 * the verifier corpus (test/fixtures/verifier-corpus/obj) and of the small verifier fixtures
 * (test/fixtures/verifier/obj), our in-process verifyProgram against the kernel judging the same
 * instructions, loaded as src/verifier/kernel.ts does (maps without BTF, no func_info, so we verify
 * without func_info too).
 *
 * What is timed, on each side (medians of several runs):
 * - ours: one verifyProgram call at log level 0 on an object already parsed, JIT-warm (every
 *   program verified 5 times first). It includes everything verifyProgram does for a program:
 *   CO-RE and kfunc patching (cached per object), the CFG, the path exploration, the stack-depth
 *   checks and the result (error, source line, why-trace). Parsing the object is not timed.
 * - the kernel, goal figure: the BPF_PROG_LOAD syscall at log level 0 (what the issue's goal
 *   names): bpf_check plus what a load adds (copying the program in, allocation, the JIT for an
 *   accepted program). Map creation, relocation and the level-1 retry after a rejection are not
 *   timed.
 * - the kernel, strict figure: bpf_check alone, as the kernel measures it itself ("verification
 *   time N usec" of a load at log level 4, BPF_LOG_STATS, 1 µs resolution): no copy, no
 *   allocation of the program, no JIT. Its ratio is the one where both sides do the same work.
 *
 * Ours runs the TypeScript sources through tsx, whose esbuild transform (keepNames) adds a
 * defineProperty call to every named closure created; the compiled package (dist/, what `tsbpf
 * verify` runs) has none: bundled without it, the same verifier measured ~12% faster on the median
 * small program here (2026-11). The figures below are the tsx ones.
 *
 * Same work: a program is timed only when the bare kernel load reaches our verdict for the same
 * reason (for a rejection, the same first line of the message). Without BTF the bare load rejects
 * some programs early for another reason (a kfunc call it cannot resolve, a tail call in a
 * subprogram without BTF, a spin lock in a map without BTF): timing those would compare our full
 * verification with the kernel's early exit. They are left out and counted.
 * Run alone: npx tsx bench/verifier.ts (or npx tsx bench/main.ts verifier); set
 * BENCH_VERIFIER_JSON=file to also write the per-program figures.
 *
 * Programs the kernel cannot judge here (tracing programs needing an attach btf_id, maps needing
 * BTF) and programs we do not model are left out and counted.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openObjectSync } from "../src/elf/object/index.js";
import type { ObjectSpec, ProgramSpec } from "../src/elf/object/types.js";
import { getSys, type Sys, setSys } from "../src/loader/sys.js";
import { ORACLE_GAPS } from "../src/verifier/diff.js";
import { type KernelVerdict, kernelVerify } from "../src/verifier/kernel.js";
import { type VerifyResult, verifyProgram } from "../src/verifier/verify.js";
import { fmtMs, median, type Row, type Section } from "./lib.js";

const DIRS = [
  "test/fixtures/verifier-corpus/obj/accept",
  "test/fixtures/verifier-corpus/obj/reject",
  "test/fixtures/verifier/obj",
];
const BPF_PROG_LOAD = 5;
/** Samples per side; programs slower than SLOW_MS get 3, slower than VERY_SLOW_MS get 1. */
const SAMPLES = 7;
const SLOW_MS = 100;
const VERY_SLOW_MS = 1000;
/** The offline verifier's wall-clock budget here (a program past it counts as not modelled). */
const MAX_MILLIS = 120_000;

interface Measured {
  readonly name: string;
  readonly oursMs: number;
  readonly kernelMs: number;
  /** The kernel's own bpf_check time (BPF_LOG_STATS), NaN when its log has none. */
  readonly kernelCheckMs: number;
  readonly oursInsns: number;
  readonly kernelInsns: number;
}

/** A Sys that times each BPF_PROG_LOAD syscall, so only the kernel's load is measured. */
function timingSys(inner: Sys, loads: number[]): Sys {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== "bpf") return Reflect.get(target, prop, receiver);
      return (cmd: number, attr: Uint8Array): number => {
        if (cmd !== BPF_PROG_LOAD) return target.bpf(cmd, attr);
        const t0 = performance.now();
        const r = target.bpf(cmd, attr);
        loads.push(performance.now() - t0);
        return r;
      };
    },
  });
}

/**
 * Median of `n` samples of fn's result (fn measures itself), n reduced for slow programs; the
 * first run is not counted. Each side's samples run back to back: interleaving them was measured
 * to slow ours (the oracle's JavaScript side, map creation and log buffers, leaves garbage that
 * is then collected during our runs), which is not the work being compared.
 */
function sampled(fn: () => number): number {
  const first = fn();
  const n = first > VERY_SLOW_MS ? 1 : first > SLOW_MS ? 3 : SAMPLES;
  const xs: number[] = [];
  for (let k = 0; k < n; k++) xs.push(fn());
  return median(xs);
}

/** WARM_PASSES verifications of every program faster than WARM_MAX_MS before any timing (JIT warm). */
const WARM_PASSES = 5;
const WARM_MAX_MS = 200;

interface Candidate {
  readonly obj: ObjectSpec;
  readonly p: ProgramSpec;
  readonly file: string;
  readonly k1: KernelVerdict;
  readonly ours: VerifyResult;
  readonly firstMs: number;
}

/** The kernel's verdict (log level 1, untimed) and ours, or why the program is left out. */
function candidate(obj: ObjectSpec, p: ProgramSpec, file: string): Candidate | string {
  const k1 = kernelVerify(obj, p, 1);
  const gap = k1.loadError ?? ORACLE_GAPS.find((g) => k1.message?.includes(g));
  if (gap) return `oracle: ${gap}`;
  const t0 = performance.now();
  const ours = verifyProgram(obj, { ...p, funcInfo: [] }, { logLevel: 0, maxMillis: MAX_MILLIS });
  const firstMs = performance.now() - t0;
  if (ours.error && !ours.error.modelled) return "not modelled";
  // The bare load (no BTF, no func_info, unresolved kfunc calls) cannot judge what needs them
  // (spin locks and timers in BTF map values, kfuncs, tracing btf_id): those are compared with
  // the real oracle in the agreement section, not timed here.
  if (ours.verdict !== k1.verdict)
    return `the bare load without BTF cannot judge it (ours ${ours.verdict}, bare kernel load ${k1.verdict})`;
  if (ours.verdict === "reject" && firstLine(ours.error?.message) !== firstLine(k1.message))
    return "the bare load without BTF rejects it for another reason";
  return { obj, p, file, k1, ours, firstMs };
}

const firstLine = (s: string | undefined): string => (s ?? "").split("\n")[0]!;

/** bpf_check's own duration in ms from a BPF_LOG_STATS log ("verification time N usec"). */
function checkTime(log: string): number {
  const m = /verification time (\d+) usec/.exec(log);
  return m ? Number(m[1]) / 1000 : Number.NaN;
}

function measure(c: Candidate): Measured {
  const { obj, p, file, k1, ours } = c;
  const spec = { ...p, funcInfo: [] };
  const loads: number[] = [];
  const prev = setSys(timingSys(getSys(), loads));
  let kernelMs: number;
  try {
    kernelMs = sampled(() => {
      loads.length = 0;
      kernelVerify(obj, p, 0);
      // the first PROG_LOAD is the level-0 one (a rejection is retried at level 1)
      return loads[0] ?? Number.NaN;
    });
  } finally {
    setSys(prev);
  }
  const BPF_LOG_STATS = 4;
  const kernelCheckMs = sampled(() => checkTime(kernelVerify(obj, p, BPF_LOG_STATS).log));
  const oursMs = sampled(() => {
    const t0 = performance.now();
    verifyProgram(obj, spec, { logLevel: 0, maxMillis: MAX_MILLIS });
    return performance.now() - t0;
  });
  return {
    name: `${file.replace(/^test\/fixtures\//, "").replace(/\/obj\//, "/")}:${p.name}`,
    oursMs,
    kernelMs,
    kernelCheckMs,
    oursInsns: ours.processedInsns,
    kernelInsns: k1.processedInsns ?? ours.processedInsns,
  };
}

const us = (ms: number, insns: number): string => `${((ms * 1000) / Math.max(1, insns)).toFixed(2)} µs`;

export function benchVerifier(): Section {
  if (process.getuid?.() !== 0) {
    return { title: "Verifier", notes: ["skipped: the kernel side needs root (bpf())"], rows: [] };
  }
  const files = DIRS.flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith(".o"))
      .sort()
      .map((f) => join(d, f)),
  );
  const cands: Candidate[] = [];
  const skipped = new Map<string, number>();
  for (const file of files) {
    const obj = openObjectSync(readFileSync(file), { file });
    for (const p of obj.programs) {
      const c = candidate(obj, p, file);
      if (typeof c === "string") skipped.set(c, (skipped.get(c) ?? 0) + 1);
      else cands.push(c);
    }
  }
  for (let k = 0; k < WARM_PASSES; k++) {
    for (const c of cands) {
      if (c.firstMs > WARM_MAX_MS) continue;
      verifyProgram(c.obj, { ...c.p, funcInfo: [] }, { logLevel: 0, maxMillis: MAX_MILLIS });
    }
  }
  const done = cands.map(measure);
  const sum = (f: (m: Measured) => number): number => done.reduce((a, m) => a + f(m), 0);
  const oursTotal = sum((m) => m.oursMs);
  const kernelTotal = sum((m) => m.kernelMs);
  const oursInsns = sum((m) => m.oursInsns);
  const kernelInsns = sum((m) => m.kernelInsns);
  const ratios = done.map((m) => m.oursMs / m.kernelMs);
  const within = ratios.filter((r) => r <= 1).length;
  const checked = done.filter((m) => Number.isFinite(m.kernelCheckMs));
  const kernelCheckTotal = checked.reduce((a, m) => a + m.kernelCheckMs, 0);
  const oursCheckedTotal = checked.reduce((a, m) => a + m.oursMs, 0);
  // bpf_check under 1 µs reads as 0 usec: count it as half the resolution
  const checkRatios = checked.map((m) => m.oursMs / Math.max(m.kernelCheckMs, 0.0005));
  const checkWithin = checkRatios.filter((r) => r <= 1).length;
  if (process.env.BENCH_VERIFIER_JSON)
    writeFileSync(process.env.BENCH_VERIFIER_JSON, JSON.stringify(done, null, 1));
  const worst = [...done].sort((a, b) => b.oursMs / b.kernelMs - a.oursMs / a.kernelMs).slice(0, 5);
  const slowest = [...done].sort((a, b) => b.kernelMs - a.kernelMs).slice(0, 3);
  const rows: Row[] = [
    {
      what: `total verify time over ${done.length} programs`,
      ours: fmtMs(oursTotal),
      reference: fmtMs(kernelTotal),
      ratio: oursTotal / kernelTotal,
      goal: "<= 1x",
    },
    {
      what: "per processed instruction (total time / total processed)",
      ours: us(oursTotal, oursInsns),
      reference: us(kernelTotal, kernelInsns),
      ratio: oursTotal / oursInsns / (kernelTotal / kernelInsns),
      goal: "<= 1x",
    },
    {
      what: `per-program ratio, median (${within}/${done.length} programs at <= 1x)`,
      ours: "",
      reference: "",
      ratio: median(ratios),
      goal: "<= 1x",
    },
    {
      what: `against bpf_check alone (the kernel's own verification time, no load, no JIT): total over ${checked.length} programs`,
      ours: fmtMs(oursCheckedTotal),
      reference: fmtMs(kernelCheckTotal),
      ratio: oursCheckedTotal / kernelCheckTotal,
      goal: "",
    },
    {
      what: `against bpf_check alone: per-program ratio, median (${checkWithin}/${checked.length} programs at <= 1x)`,
      ours: "",
      reference: "",
      ratio: median(checkRatios),
      goal: "",
    },
    ...slowest.map((m) => ({
      what: `largest: ${m.name} (${m.oursInsns} / ${m.kernelInsns} insns processed)`,
      ours: fmtMs(m.oursMs),
      reference: fmtMs(m.kernelMs),
      ratio: m.oursMs / m.kernelMs,
      goal: "<= 1x",
    })),
    ...worst.map((m) => ({
      what: `worst ratio: ${m.name} (${m.oursInsns} / ${m.kernelInsns} insns processed)`,
      ours: fmtMs(m.oursMs),
      reference: fmtMs(m.kernelMs),
      ratio: m.oursMs / m.kernelMs,
      goal: "<= 1x",
    })),
  ];
  const notes = [
    "The offline verifier (in-process verifyProgram at log level 0 on a parsed object, JIT-warm: every program verified 5 times first, then a median of up to 7 runs) against the",
    "kernel's BPF_PROG_LOAD syscall at log level 0 for the same program (median of up to 7 loads, only the",
    "syscall timed: bpf_check plus the copy, allocation and JIT of a load), over the verifier corpus and the small verifier fixtures;",
    'and against bpf_check alone (the kernel\'s own "verification time" at log level 4, 1 µs resolution), where both sides do the same work.',
    "Timed only where the bare kernel load (no BTF) reaches our verdict for the same reason. Processed counts: ours / kernel's.",
    `Left out: ${[...skipped].map(([why, n]) => `${n} (${why})`).join(", ") || "none"}.`,
  ];
  return { title: "Verifier", notes, rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { renderSection } = await import("./lib.js");
  process.stdout.write(renderSection(benchVerifier()) + "\n");
}
