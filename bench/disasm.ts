/** Disassembly: tsbpf objdump against llvm-objdump-19 on the same files, in the same run. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readElf } from "../src/elf/reader.js";
import { disassemble } from "../src/isa/disasm.js";
import { fmtMs, haveTool, type Row, type Section, timeInProcess, timeProcess } from "./lib.js";

const OBJ_DIR = "test/fixtures/obj";
const LARGE = join(OBJ_DIR, "large.el.o");

export function benchDisasm(): Section {
  const notes: string[] = [];
  if (!haveTool("llvm-objdump-19")) {
    return { title: "Disassembly", notes: ["skipped: llvm-objdump-19 not installed"], rows: [] };
  }
  const fixtures = readdirSync(OBJ_DIR)
    .filter((f) => f.endsWith(".o") && f !== "large.el.o")
    .map((f) => join(OBJ_DIR, f))
    .sort();
  const rows: Row[] = [];
  const cli = ["bin/tsbpf.js", "objdump", "-d"];
  const cases: Array<[string, string[]]> = [
    [`all ${fixtures.length} fixture objects (one process)`, fixtures],
    ["large object (one file)", [LARGE]],
  ];
  for (const [what, files] of cases) {
    const runs = files.length > 1 ? 5 : 5;
    const ref = timeProcess("llvm-objdump-19", ["-d", ...files], runs);
    const ours = timeProcess(process.execPath, [...cli, ...files], runs);
    rows.push({
      what: `${what}, whole process`,
      ours: fmtMs(ours),
      reference: fmtMs(ref),
      ratio: ours / ref,
      goal: "≤ 1x",
    });
    const bytes = files.map((f) => readFileSync(f));
    const inproc = timeInProcess(() => {
      for (let i = 0; i < bytes.length; i++)
        disassemble(readElf(bytes[i], { file: files[i] }), { path: files[i] });
    });
    rows.push({
      what: `${what}, in-process (no Node start-up) vs llvm-objdump process`,
      ours: fmtMs(inproc),
      reference: fmtMs(ref),
      ratio: inproc / ref,
      goal: "≤ 1x",
    });
  }
  // Whole-process figures include Node's own start-up, which no tsbpf code can remove.
  const nodeStart = timeProcess(process.execPath, ["-e", "0"], 5);
  notes.push(`Node start-up alone (\`node -e 0\`) in this run: ${fmtMs(nodeStart)}.`);
  const large = readElf(readFileSync(LARGE));
  const text = large.sections.find((s) => (s.flags & 4n) !== 0n && s.size > 0);
  notes.push(
    `Large object: ${LARGE}, ${Math.round(large.sections.filter((s) => (s.flags & 4n) !== 0n).reduce((n, s) => n + s.size, 0) / 8)} instruction slots${text ? "" : ""}.`,
  );
  return { title: "Disassembly (`tsbpf objdump -d` vs `llvm-objdump-19 -d`)", notes, rows };
}
