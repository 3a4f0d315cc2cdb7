/**
 * Split BTF (kernel module BTF on top of vmlinux): ids continue after the base, string offsets
 * past the base's string section are the split blob's own. A hand-made base and split pair, and
 * a split blob on top of the real vmlinux; each compared with `bpftool -B base btf dump`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { type Btf, dumpBtfC, dumpBtfRaw, parseBtf } from "../../src/elf/btf/index.js";
import { BtfError } from "../../src/errors.js";
import { BtfBuilder, KIND } from "./btf-builder.js";
import { firstDifference } from "./diff.js";

function hasBpftool(): boolean {
  try {
    execFileSync("bpftool", ["version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}
const BPFTOOL = hasBpftool();
if (!BPFTOOL) console.warn("split BTF bpftool comparisons skipped: bpftool is not installed");

const dir = mkdtempSync(join(tmpdir(), "tsbpf-btf-split-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bpftoolSplit(baseBytes: Uint8Array, splitBytes: Uint8Array, format: "raw" | "c"): string {
  const basePath = join(dir, "base.btf");
  const splitPath = join(dir, "split.btf");
  writeFileSync(basePath, baseBytes);
  writeFileSync(splitPath, splitBytes);
  return execFileSync("bpftool", ["-B", basePath, "btf", "dump", "file", splitPath, "format", format], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
}

/** A split blob that uses base types and base strings and adds its own. */
function buildSplit(base: Btf, intId: number, littleEndian = true): Uint8Array {
  const b = new BtfBuilder({ startId: base.typeCount, strBase: base.stringsLength });
  const ptr = b.ref(KIND.PTR, intId);
  const s = b.struct("mod_state", 16, [
    { name: "count", type: intId, bitOffset: 0 },
    { name: "next", type: ptr, bitOffset: 64 },
  ]);
  b.ref(KIND.TYPEDEF, s, "mod_state_t");
  const proto = b.funcProto(intId, [["st", b.ref(KIND.PTR, s)]]);
  b.raw(b.str("mod_fn"), (KIND.FUNC << 24) | 1, proto);
  // A section entry naming a base type: its name comes from the base's strings.
  b.raw(b.str(".data.mod"), (KIND.DATASEC << 24) | 2, 8, intId, 0, 4, s, 4, 4);
  return b.bytes({ littleEndian });
}

describe("split BTF on a hand-made base", () => {
  const bb = new BtfBuilder();
  const intId = bb.int("int", 4, 32, 1);
  bb.int("long int", 8, 64, 1);
  bb.struct("base_s", 4, [{ name: "x", type: intId, bitOffset: 0 }]);
  const baseBytes = bb.bytes();
  const base = parseBtf(baseBytes);
  const splitBytes = buildSplit(base, intId);
  const split = parseBtf(splitBytes, { base });

  it("continues ids and string offsets after the base", () => {
    expect(split.startId).toBe(base.typeCount);
    expect(split.typeCount).toBe(base.typeCount + 7);
    expect(split.typeById(intId)).toBe(base.typeById(intId));
    const st = split.findByName("mod_state", "STRUCT");
    expect(st?.id).toBe(base.typeCount + 1);
    expect(st?.kind === "STRUCT" && st.members.map((m) => m.name)).toEqual(["count", "next"]);
    expect(split.findByName("base_s")?.id).toBe(3);
    expect(split.typeString(base.typeCount + 5)).toBe("int mod_fn(struct mod_state *st)");
    expect(split.typeString(base.typeCount + 3)).toBe("struct mod_state *");
    expect(split.typeString(base.typeCount + 4)).toBe("int(struct mod_state *st)");
    expect(split.sizeOf(base.typeCount + 2)).toBe(16);
  });

  it("reads a big-endian split blob the same way", () => {
    const be = parseBtf(buildSplit(base, intId, false), { base });
    expect(be.types).toEqual(split.types);
  });

  it("dumps through the CLI with -B base", async () => {
    const basePath = join(dir, "cli-base.btf");
    const splitPath = join(dir, "cli-split.btf");
    writeFileSync(basePath, baseBytes);
    writeFileSync(splitPath, splitBytes);
    const io = captureIo();
    const code = await main(
      ["node", "tsbpf", "btf", "dump", "-B", basePath, "file", splitPath, "format", "c"],
      io,
    );
    expect(io.err).toBe("");
    expect(code).toBe(0);
    expect(io.out).toBe(dumpBtfC(split));
  });

  it("needs the base to resolve its references", () => {
    expect(() => parseBtf(splitBytes)).toThrow(BtfError);
  });

  it.skipIf(!BPFTOOL)("dumps like bpftool -B base (raw lists only the split types; C all)", () => {
    expect(firstDifference(bpftoolSplit(baseBytes, splitBytes, "raw"), dumpBtfRaw(split))).toBeUndefined();
    expect(firstDifference(bpftoolSplit(baseBytes, splitBytes, "c"), dumpBtfC(split))).toBeUndefined();
  });
});

const VMLINUX = "/sys/kernel/btf/vmlinux";
describe.skipIf(!BPFTOOL || !existsSync(VMLINUX))("split BTF on vmlinux", () => {
  it("dumps like bpftool -B vmlinux", () => {
    const baseBytes = new Uint8Array(readFileSync(VMLINUX));
    const base = parseBtf(baseBytes);
    const intId = base.findByName("int", "INT")!.id;
    const splitBytes = buildSplit(base, intId);
    const split = parseBtf(splitBytes, { base });
    expect(firstDifference(bpftoolSplit(baseBytes, splitBytes, "raw"), dumpBtfRaw(split))).toBeUndefined();
  }, 60_000);
});
