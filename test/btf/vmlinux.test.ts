/**
 * The running kernel's BTF (~126k types) dumped by us and by bpftool, raw and C, byte for byte.
 * The goldens are made here, at test time, by running bpftool (the kernel's BTF is not ours to
 * commit); skipped, visibly, where there is no /sys/kernel/btf/vmlinux or no bpftool.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BtfKind, dumpBtfC, dumpBtfJson, dumpBtfRaw, parseBtf } from "../../src/elf/btf/index.js";
import { firstDifference } from "./diff.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";

function bpftoolWorks(): string | undefined {
  if (!existsSync(VMLINUX)) return `${VMLINUX} is missing`;
  try {
    execFileSync("bpftool", ["version"], { stdio: "pipe" });
    return undefined;
  } catch {
    return "bpftool is not installed";
  }
}

const skipReason = bpftoolWorks();
if (skipReason) console.warn(`vmlinux BTF tests skipped: ${skipReason}`);

function bpftool(format: "raw" | "c" | "json"): string {
  const args =
    format === "json"
      ? ["-j", "btf", "dump", "file", VMLINUX]
      : ["btf", "dump", "file", VMLINUX, "format", format];
  return execFileSync("bpftool", args, {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
}

describe.skipIf(skipReason !== undefined)("vmlinux BTF against bpftool", () => {
  const bytes = skipReason ? new Uint8Array() : new Uint8Array(readFileSync(VMLINUX));

  it("raw dump is byte-identical", () => {
    const btf = parseBtf(bytes);
    expect(btf.typeCount).toBeGreaterThan(1000);
    expect(firstDifference(bpftool("raw"), dumpBtfRaw(btf))).toBeUndefined();
  }, 60_000);

  it("C dump is byte-identical", () => {
    const btf = parseBtf(bytes);
    expect(firstDifference(bpftool("c"), dumpBtfC(btf))).toBeUndefined();
  }, 60_000);

  it("JSON dump is byte-identical to bpftool -j", () => {
    const btf = parseBtf(bytes);
    expect(firstDifference(bpftool("json"), dumpBtfJson(btf))).toBeUndefined();
  }, 60_000);

  it("layout queries agree with the sizes BTF records for kernel structs", () => {
    const btf = parseBtf(bytes);
    const task = btf.findByName("task_struct", "STRUCT");
    expect(task?.kind).toBe("STRUCT");
    if (task?.kind !== "STRUCT") return;
    // An independent check: every member fits inside the struct, offsets ascend for structs.
    let prev = -1;
    for (const m of task.members) {
      expect(m.bitOffset).toBeGreaterThanOrEqual(prev);
      prev = m.bitOffset;
      if (m.bitfieldSize === 0 && btf.kindOf(btf.resolve(m.type)) !== BtfKind.ARRAY) {
        expect(m.bitOffset / 8 + btf.sizeOf(m.type)).toBeLessThanOrEqual(task.size);
        expect(m.bitOffset % (8 * btf.alignOf(m.type))).toBe(0);
      }
    }
    expect(btf.sizeOf(task.id)).toBe(task.size);
    expect(btf.typeString(btf.findByName("task_struct", "STRUCT")!.id)).toBe("struct task_struct");
  }, 60_000);
});
