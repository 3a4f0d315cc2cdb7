/** BTF: parse + raw dump of the running kernel's vmlinux BTF, against bpftool in the same run. */
import { existsSync, readFileSync } from "node:fs";
import { dumpBtfRaw, parseBtf } from "../src/elf/btf/index.js";
import { fmtMs, haveTool, type Row, type Section, timeInProcess, timeProcess } from "./lib.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";

export function benchBtf(): Section {
  if (!existsSync(VMLINUX) || !haveTool("bpftool", ["version"])) {
    return { title: "BTF", notes: ["skipped: needs /sys/kernel/btf/vmlinux and bpftool"], rows: [] };
  }
  const rows: Row[] = [];
  const runs = 5;
  const ref = timeProcess("bpftool", ["btf", "dump", "file", VMLINUX], runs);
  const ours = timeProcess(process.execPath, ["bin/tsbpf.js", "btf", "dump", "file", VMLINUX], runs);
  rows.push({
    what: "vmlinux raw dump, whole process",
    ours: fmtMs(ours),
    reference: fmtMs(ref),
    ratio: ours / ref,
    goal: "< 1x",
  });
  const bytes = readFileSync(VMLINUX);
  const inproc = timeInProcess(() => dumpBtfRaw(parseBtf(bytes)), 2000, 5);
  rows.push({
    what: "vmlinux parse + raw dump, in-process vs bpftool process",
    ours: fmtMs(inproc),
    reference: fmtMs(ref),
    ratio: inproc / ref,
    goal: "< 1x",
  });
  const refC = timeProcess("bpftool", ["btf", "dump", "file", VMLINUX, "format", "c"], 3);
  const oursC = timeProcess(
    process.execPath,
    ["bin/tsbpf.js", "btf", "dump", "file", VMLINUX, "format", "c"],
    3,
  );
  rows.push({
    what: "vmlinux C dump, whole process",
    ours: fmtMs(oursC),
    reference: fmtMs(refC),
    ratio: oursC / refC,
    goal: "—",
  });
  const parseOnly = timeInProcess(() => parseBtf(bytes), 1000, 5);
  return {
    title: "BTF (`tsbpf btf dump file` vs `bpftool btf dump file`)",
    notes: [
      `vmlinux BTF: ${(bytes.length / 1e6).toFixed(1)} MB; parse alone in-process: ${fmtMs(parseOnly)}.`,
    ],
    rows,
  };
}
