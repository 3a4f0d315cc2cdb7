import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  KERNEL_ATTACH_TYPES,
  KERNEL_HELPER_IDS,
  KERNEL_MAP_TYPES,
  KERNEL_PROG_TYPES,
  type KernelEnumEntry,
} from "../../src/abi/kernel-enums.js";
import { vmlinux, vmlinuxSkipReason } from "./vmlinux-btf.js";

const golden = JSON.parse(
  readFileSync(new URL("../fixtures/golden/libbpf-sections.json", import.meta.url), "utf8"),
) as {
  libbpf: string;
  typeNames: { prog: (string | null)[]; map: (string | null)[]; attach: (string | null)[] };
};

const tables: [string, readonly KernelEnumEntry[]][] = [
  ["bpf_prog_type", KERNEL_PROG_TYPES],
  ["bpf_map_type", KERNEL_MAP_TYPES],
  ["bpf_attach_type", KERNEL_ATTACH_TYPES],
  ["bpf_func_id", KERNEL_HELPER_IDS],
];

describe.skipIf(!vmlinux)(`kernel enums against vmlinux BTF ${vmlinuxSkipReason}`, () => {
  for (const [btfName, table] of tables) {
    it(btfName, () => {
      const values = vmlinux!.enumValues(btfName)!;
      // Every enumerator but the __MAX sentinels and *_DEPRECATED aliases is in the table with its value.
      const real = [...values].filter(([n]) => !n.startsWith("__") && !n.endsWith("_DEPRECATED"));
      expect(table.map((e) => [e.kernelName, e.id])).toEqual(real);
    });
  }
});

describe(`names against libbpf ${golden.libbpf}'s *_type_str() (golden)`, () => {
  const pairs: [string, readonly KernelEnumEntry[], (string | null)[]][] = [
    ["prog", KERNEL_PROG_TYPES, golden.typeNames.prog],
    ["map", KERNEL_MAP_TYPES, golden.typeNames.map],
    ["attach", KERNEL_ATTACH_TYPES, golden.typeNames.attach],
  ];
  for (const [what, table, libbpf] of pairs) {
    it(what, () => {
      let compared = 0;
      for (const e of table) {
        const s = libbpf[e.id];
        if (s === null || s === undefined) continue; // newer than libbpf 1.1: named by the same rule
        expect(e.name, e.kernelName).toBe(s);
        compared++;
      }
      expect(compared).toBeGreaterThan(30);
    });
  }
});
