/**
 * `npm run bench`: runs every benchmark section and writes BENCHMARKS.md. Run from the repo root
 * after `npm run build` (whole-process figures use bin/tsbpf.js).
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { benchBtf } from "./btf.js";
import { benchDisasm } from "./disasm.js";
import { renderSection, type Section } from "./lib.js";
import { benchVerifier } from "./verifier.js";
import { benchVerifierAgreement } from "./verifier-agreement.js";
import { benchVm } from "./vm.js";

const sections: Array<() => Section> = [
  benchDisasm,
  benchBtf,
  benchVm,
  benchVerifier,
  benchVerifierAgreement,
];

const only = process.argv.slice(2);
const out: string[] = [
  "# Benchmarks",
  "",
  `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), shared and noisy.`,
  "Every figure is a ratio against a reference measured in the same run; times are medians.",
  "",
];
for (const s of sections) {
  if (only.length && !only.some((o) => s.name.toLowerCase().includes(o.toLowerCase()))) continue;
  const section = s();
  process.stdout.write(renderSection(section) + "\n");
  out.push(renderSection(section));
}
if (!only.length) writeFileSync("BENCHMARKS.md", out.join("\n"));
