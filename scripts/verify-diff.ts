/**
 * `npm run verify:diff`: the offline verifier against the kernel on every fixture object.
 * Live kernel when available (root + bpf()), else the committed goldens. `--write-goldens`
 * records the kernel's verdicts into test/fixtures/verifier/goldens.json.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { diffFiles, figures, type Golden, goldenOf } from "../src/verifier/diff.js";

const GOLDENS = "test/fixtures/verifier/goldens.json";

export function fixtureFiles(): string[] {
  const list = (dir: string, re: RegExp): string[] =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => re.test(f))
          .sort()
          .map((f) => join(dir, f))
      : [];
  return [
    ...list("test/fixtures/obj", /\.el\.v3\.o$/),
    ...list("test/fixtures/obj/reject", /\.el\.v3\.o$/),
    ...list("test/fixtures/verifier/obj", /\.o$/),
  ];
}

const write = process.argv.includes("--write-goldens");
const live = process.getuid?.() === 0 && !process.argv.includes("--goldens");
const goldens: Golden[] = existsSync(GOLDENS) ? JSON.parse(readFileSync(GOLDENS, "utf8")) : [];
const byKey = new Map(goldens.map((g) => [`${g.file}\0${g.program}`, g]));
const recorded: Golden[] = [];
const rows = await diffFiles(
  fixtureFiles(),
  async (file, program, kernel) => {
    const g = live ? goldenOf(file, program, await kernel()) : byKey.get(`${file}\0${program}`);
    if (g) recorded.push(g);
    return g;
  },
  60000,
);
if (write) {
  writeFileSync(GOLDENS, `${JSON.stringify(recorded, null, 1)}\n`);
  console.log(`wrote ${recorded.length} kernel verdicts to ${GOLDENS}`);
}
for (const r of rows) {
  const k = r.kernel;
  const tag = k.unavailable
    ? "ORACLE-N/A"
    : !r.ours.modelled
      ? "NOT-MODELLED"
      : r.ours.verdict !== k.verdict
        ? r.ours.verdict === "accept"
          ? "FALSE-ACCEPT"
          : "FALSE-REJECT"
        : r.ours.verdict === "accept" || (r.ours.message === k.message && r.ours.insn === k.insn)
          ? "same"
          : r.ours.message === k.message
            ? "other-insn"
            : "other-message";
  console.log(
    `${tag.padEnd(13)} ${r.file}:${r.program} ours=${r.ours.verdict}/${r.ours.processedInsns} kernel=${k.verdict}/${k.processedInsns ?? "?"}`,
  );
  if (tag !== "same" && tag !== "ORACLE-N/A") {
    console.log(`    ours:   ${r.ours.insn ?? ""} ${JSON.stringify(r.ours.message ?? "")}`);
    console.log(`    kernel: ${k.insn ?? ""} ${JSON.stringify(k.message ?? k.unavailable ?? "")}`);
  }
}
console.log(JSON.stringify({ source: live ? "live kernel" : "goldens", ...figures(rows) }, null, 1));
