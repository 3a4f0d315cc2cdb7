/**
 * Raw and C dumps against bpftool goldens: the fixture objects (test/fixtures/golden/btf, made by
 * test/fixtures/build.sh) and the BTF layout torture test (golden/btf-vmlinux-sample/tricky.c),
 * in both byte orders; also through the CLI.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { btfFromBytes, dumpBtfC, dumpBtfJson, dumpBtfRaw } from "../../src/elf/btf/index.js";
import { BtfError } from "../../src/errors.js";
import { firstDifference } from "./diff.js";

const ROOT = join(import.meta.dirname, "..", "fixtures");
const OBJ = join(ROOT, "obj");
const GOLDEN = join(ROOT, "golden", "btf");
const SAMPLE = join(ROOT, "golden", "btf-vmlinux-sample");

interface Case {
  readonly name: string;
  readonly obj: string;
  readonly raw: string;
  readonly c: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  if (existsSync(GOLDEN)) {
    for (const f of readdirSync(GOLDEN)
      .filter((x) => x.endsWith(".raw.txt"))
      .sort()) {
      const base = f.slice(0, -".raw.txt".length);
      out.push({
        name: base,
        obj: join(OBJ, `${base}.o`),
        raw: join(GOLDEN, f),
        c: join(GOLDEN, `${base}.c.txt`),
      });
    }
  }
  for (const e of ["el", "eb"]) {
    out.push({
      name: `tricky.${e}`,
      obj: join(SAMPLE, `tricky.${e}.o`),
      raw: join(SAMPLE, `tricky.${e}.raw.txt`),
      c: join(SAMPLE, `tricky.${e}.c.txt`),
    });
  }
  return out;
}

const all = cases();

describe("btf dump matches bpftool goldens", () => {
  it("has the fixture goldens", () => {
    // 2 torture-test objects plus the fixture helper's objects.
    expect(all.length).toBeGreaterThan(10);
  });

  it.each(all)("$name raw", ({ obj, raw }) => {
    const btf = btfFromBytes(new Uint8Array(readFileSync(obj)), { file: obj });
    expect(firstDifference(readFileSync(raw, "utf8"), dumpBtfRaw(btf))).toBeUndefined();
  });

  it.each(["el", "eb"])("tricky.%s json (bpftool -j)", (e) => {
    const obj = join(SAMPLE, `tricky.${e}.o`);
    const btf = btfFromBytes(new Uint8Array(readFileSync(obj)), { file: obj });
    const golden = readFileSync(join(SAMPLE, `tricky.${e}.json.txt`), "utf8");
    expect(dumpBtfJson(btf)).toBe(golden);
    expect(JSON.parse(golden).types).toHaveLength(btf.typeCount - 1);
  });

  it.each(all)("$name c", ({ obj, c }) => {
    const btf = btfFromBytes(new Uint8Array(readFileSync(obj)), { file: obj });
    expect(firstDifference(readFileSync(c, "utf8"), dumpBtfC(btf))).toBeUndefined();
  });
});

function bpftool(args: readonly string[]): string | undefined {
  try {
    return execFileSync("bpftool", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    return undefined;
  }
}
const BPFTOOL = bpftool(["version"]) !== undefined;
if (!BPFTOOL) console.warn("btf dump of every fixture object against bpftool skipped: no bpftool");

describe.skipIf(!BPFTOOL)("every fixture object (all -mcpu levels) against bpftool, run now", () => {
  const objs = existsSync(OBJ) ? readdirSync(OBJ).filter((f) => f.endsWith(".o")) : [];
  it("has objects", () => {
    expect(objs.length).toBeGreaterThan(10);
  });
  it.each(objs)("%s", (f) => {
    const obj = join(OBJ, f);
    const raw = bpftool(["btf", "dump", "file", obj]);
    let btf: ReturnType<typeof btfFromBytes>;
    try {
      btf = btfFromBytes(new Uint8Array(readFileSync(obj)), { file: obj });
    } catch (e) {
      // Objects without BTF: bpftool refuses them too.
      expect(e).toBeInstanceOf(BtfError);
      expect(raw).toBeUndefined();
      return;
    }
    expect(firstDifference(raw ?? "(bpftool failed)", dumpBtfRaw(btf))).toBeUndefined();
    const c = bpftool(["btf", "dump", "file", obj, "format", "c"]);
    expect(firstDifference(c ?? "(bpftool failed)", dumpBtfC(btf))).toBeUndefined();
  });
});

describe("tsbpf btf dump (CLI)", () => {
  const sample = all[all.length - 1];

  it("prints the raw dump by default and with 'format raw'", async () => {
    for (const extra of [[], ["format", "raw"], ["fo", "raw"]]) {
      const io = captureIo();
      const code = await main(["node", "tsbpf", "btf", "dump", "file", sample.obj, ...extra], io);
      expect(io.err).toBe("");
      expect(code).toBe(0);
      expect(firstDifference(readFileSync(sample.raw, "utf8"), io.out)).toBeUndefined();
    }
  });

  it("prints the C dump with 'format c'", async () => {
    const io = captureIo();
    const code = await main(["node", "tsbpf", "btf", "dump", "file", sample.obj, "format", "c"], io);
    expect(code).toBe(0);
    expect(firstDifference(readFileSync(sample.c, "utf8"), io.out)).toBeUndefined();
  });

  it("prints JSON with -j or 'format json', refuses JSON for the C format", async () => {
    const golden = readFileSync(join(SAMPLE, "tricky.el.json.txt"), "utf8");
    for (const args of [
      ["-j", "file", sample.obj.replace(".eb.", ".el.")],
      ["file", sample.obj.replace(".eb.", ".el."), "format", "json"],
    ]) {
      const io = captureIo();
      const code = await main(["node", "tsbpf", "btf", "dump", ...args], io);
      expect(code).toBe(0);
      expect(io.out).toBe(golden);
    }
    const io = captureIo();
    expect(await main(["node", "tsbpf", "btf", "dump", "-j", "file", sample.obj, "format", "c"], io)).toBe(2);
    expect(io.err).toMatch(/JSON output for C-syntax dump is not supported/);
  });

  it("rejects bad usage and bad files with exit code 2 and one line", async () => {
    const bad: string[][] = [
      ["btf", "dump", "id", "5"],
      ["btf", "dump", "file", sample.obj, "format", "yaml"],
      ["btf", "dump", "file", sample.obj, "colour", "c"],
      ["btf", "dump", "file", "/nonexistent/x.o"],
      ["btf", "dump", "file", join(SAMPLE, "tricky.c")],
    ];
    for (const args of bad) {
      const io = captureIo();
      const code = await main(["node", "tsbpf", ...args], io);
      expect(code, args.join(" ")).toBe(2);
      expect(io.out).toBe("");
      expect(io.err.trim().split("\n")).toHaveLength(1);
      expect(io.err).toMatch(/^tsbpf: /);
    }
  });
});
