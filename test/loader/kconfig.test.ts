// fillKconfig: the values libbpf gives __kconfig externs, checked on a hand-built BTF whose types
// are the ones the C declarations produce (bool, int, enum libbpf_tristate, char[]).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseBtf } from "../../src/elf/btf/parse.js";
import type { ExternSpec } from "../../src/elf/object/types.js";
import { LoaderError } from "../../src/loader/errors.js";
import { fillKconfig } from "../../src/loader/kconfig.js";
import { BtfBuilder } from "../btf/btf-builder.js";

const BOOL = 4;
const SIGNED = 1;

function setup() {
  const b = new BtfBuilder();
  const bool = b.int("_Bool", 1, 8, BOOL);
  const int = b.int("int", 4, 32, SIGNED);
  const btf = parseBtf(b.bytes());
  const ext = (name: string, type: number, offset: number, size: number, weak = false): ExternSpec => ({
    name,
    kind: "kconfig",
    isFunction: false,
    weak,
    btfId: 0,
    btfTypeId: type,
    offset,
    size,
  });
  return { btf, bool, int, ext };
}

describe("fillKconfig", () => {
  it("libbpf's feature externs are bools: LINUX_HAS_BPF_COOKIE, LINUX_HAS_SYSCALL_WRAPPER", () => {
    const { btf, bool, int, ext } = setup();
    const data = new Uint8Array(8).fill(0xee);
    fillKconfig(
      btf,
      [
        ext("LINUX_HAS_BPF_COOKIE", bool, 0, 1),
        ext("LINUX_HAS_SYSCALL_WRAPPER", bool, 1, 1),
        ext("LINUX_KERNEL_VERSION", int, 4, 4),
      ],
      data,
      new Map(),
      "6.18.44-x",
    );
    expect(data[0]).toBe(1);
    // x86-64 kernels enter syscalls through __x64_sys_* wrappers; the answer follows /proc/kallsyms
    const wrapped = /^\S+ [tT] __x64_sys_bpf$/m.test(readFileSync("/proc/kallsyms", "utf8"));
    expect(data[1]).toBe(wrapped ? 1 : 0);
    expect(new DataView(data.buffer).getUint32(4, true)).toBe((6 << 16) | (18 << 8) | 44);
  });

  it("CONFIG_ values from the config; a missing strong one is an error naming it, a weak one stays 0", () => {
    const { btf, bool, int, ext } = setup();
    const data = new Uint8Array(12);
    fillKconfig(
      btf,
      [
        ext("CONFIG_BPF_SYSCALL", bool, 0, 1),
        ext("CONFIG_HZ", int, 4, 4),
        ext("CONFIG_NOPE", bool, 8, 1, true),
      ],
      data,
      new Map([
        ["CONFIG_BPF_SYSCALL", "y"],
        ["CONFIG_HZ", "250"],
      ]),
    );
    expect([data[0], new DataView(data.buffer).getInt32(4, true), data[8]]).toEqual([1, 250, 0]);
    expect(() => fillKconfig(btf, [ext("CONFIG_NOPE", bool, 0, 1)], data, new Map())).toThrow(LoaderError);
    expect(() => fillKconfig(btf, [ext("CONFIG_NOPE", bool, 0, 1)], data, new Map())).toThrow(/CONFIG_NOPE/);
    expect(() =>
      fillKconfig(btf, [ext("CONFIG_HZ", bool, 0, 1)], data, new Map([["CONFIG_HZ", "250"]])),
    ).toThrow(/not a bool/);
  });
});
