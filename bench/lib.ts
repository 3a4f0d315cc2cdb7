/**
 * Benchmark helpers. Every figure is a ratio against a reference measured in the same run on
 * the same machine (2 shared, noisy cores), so absolute times are printed but never asserted.
 */
import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";

export interface Row {
  readonly what: string;
  readonly ours: string;
  readonly reference: string;
  /** ours / reference (time): < 1 means we are faster. */
  readonly ratio: number;
  readonly goal: string;
}

export interface Section {
  readonly title: string;
  readonly notes: readonly string[];
  readonly rows: readonly Row[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median wall time in ms of a whole process run `runs` times (after one warm-up run). */
export function timeProcess(cmd: string, args: readonly string[], runs: number): number {
  const run = () => {
    const t0 = performance.now();
    const r = spawnSync(cmd, args as string[], { stdio: ["ignore", "ignore", "pipe"], maxBuffer: 1 << 30 });
    const t = performance.now() - t0;
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr?.toString() ?? r.error}`);
    return t;
  };
  run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(run());
  return median(times);
}

/** Median ms per call of an in-process function: batches until `minMs` per sample, 7 samples. */
export function timeInProcess(fn: () => unknown, minMs = 200, samples = 7): number {
  fn();
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    const t = performance.now() - t0;
    if (t >= minMs / samples || n >= 1 << 20) break;
    n *= 2;
  }
  const per: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    per.push((performance.now() - t0) / n);
  }
  return median(per);
}

export function haveTool(cmd: string, args: readonly string[] = ["--version"]): boolean {
  const r = spawnSync(cmd, args as string[], { stdio: "ignore" });
  return r.status === 0;
}

export const fmtMs = (ms: number): string =>
  (ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3)) + " ms";
export const fmtRatio = (r: number): string => (Number.isFinite(r) ? r.toFixed(2) + "x" : "n/a");

export function renderSection(s: Section): string {
  const lines = [`## ${s.title}`, ""];
  for (const n of s.notes) lines.push(n);
  if (s.notes.length) lines.push("");
  lines.push("| measurement | tsbpf | reference | ratio (tsbpf/reference) | goal |", "|---|---|---|---|---|");
  for (const r of s.rows)
    lines.push(`| ${r.what} | ${r.ours} | ${r.reference} | ${fmtRatio(r.ratio)} | ${r.goal} |`);
  lines.push("");
  return lines.join("\n");
}
