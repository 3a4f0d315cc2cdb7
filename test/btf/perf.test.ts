/**
 * A regression guard for the vmlinux hot path: our parse + raw dump against bpftool's whole run
 * (which does the same: read, parse, print to /dev/null). On-CPU time, not wall time, because
 * the test machine is shared: ours is this thread's schedstat run time, bpftool's is user + sys
 * from time(1). Best of 3 each. The bound is loose (2x) so that only a real regression fails;
 * the measured figures are printed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { dumpBtfRaw, parseBtf } from "../../src/elf/btf/index.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

function tools(): string | undefined {
  if (!existsSync(VMLINUX)) return `${VMLINUX} is missing`;
  if (!existsSync("/usr/bin/time")) return "/usr/bin/time is missing";
  if (!existsSync(SCHEDSTAT)) return "no per-thread schedstat";
  try {
    execFileSync("bpftool", ["version"], { stdio: "pipe" });
  } catch {
    return "bpftool is not installed";
  }
  return undefined;
}
const skip = tools();
if (skip) console.warn(`BTF perf guard skipped: ${skip}`);

function threadCpuMs(): number {
  return Number(readFileSync(SCHEDSTAT, "utf8").split(" ")[0]) / 1e6;
}

function bpftoolCpuMs(): number {
  const r = spawnSync("sh", ["-c", `/usr/bin/time -f "%U %S" bpftool btf dump file ${VMLINUX} > /dev/null`], {
    encoding: "utf8",
  });
  const [u, s] = r.stderr.trim().split(/\s+/).slice(-2).map(Number);
  return (u + s) * 1000;
}

describe.skipIf(skip !== undefined)("vmlinux parse + raw dump cost", () => {
  it("is within 2x of bpftool's on-CPU time", () => {
    let ours = Number.POSITIVE_INFINITY;
    let theirs = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i++) {
      const t0 = threadCpuMs();
      const text = dumpBtfRaw(parseBtf(readFileSync(VMLINUX)));
      ours = Math.min(ours, threadCpuMs() - t0);
      expect(text.length).toBeGreaterThan(0);
      theirs = Math.min(theirs, bpftoolCpuMs());
    }
    console.log(
      `vmlinux read+parse+raw dump: tsbpf ${ours.toFixed(0)} ms on-CPU, bpftool ${theirs.toFixed(0)} ms`,
    );
    expect(ours).toBeLessThan(2 * theirs);
  }, 60_000);
});
