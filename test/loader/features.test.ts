// Feature probes against bpftool's own probes (`bpftool -j feature probe kernel`) for program and
// map types. Helper lists from bpftool 7.1 are not usable as an oracle on this kernel (its probe
// misreads the 6.18 verifier message and reports nearly every helper for every type), so helper
// probes are checked against programs that this test suite loads for real.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { MapType, ProgType } from "../../src/loader/consts.js";
import { haveHelper, haveMapType, haveProgType } from "../../src/loader/features.js";
import { probeBpf } from "../../src/loader/probe.js";

const probe = probeBpf();
let features: { program_types: Record<string, boolean>; map_types: Record<string, boolean> } | string;
try {
  features = JSON.parse(execFileSync("bpftool", ["-j", "feature", "probe", "kernel"], { encoding: "utf8" }));
} catch (e) {
  features = `bpftool feature probe failed: ${(e as Error).message.split("\n")[0]}`;
}
const reason = !probe.ok ? probe.reason : typeof features === "string" ? features : undefined;
if (reason) console.warn(`SKIP feature probe comparison: ${reason}`);
const pit = reason ? it.skip : it;

/** Types our probes knowingly answer false for: they need BTF or a target object to create/load. */
const NEEDS_TARGET = new Set(["STRUCT_OPS", "SK_STORAGE", "INODE_STORAGE", "TASK_STORAGE", "CGRP_STORAGE"]);

describe("feature probes", () => {
  pit("program types agree with bpftool", () => {
    if (typeof features === "string") return;
    let compared = 0;
    for (const [key, theirs] of Object.entries(features.program_types)) {
      const name = key
        .replace(/^have_/, "")
        .replace(/_prog_type$/, "")
        .toUpperCase();
      const id = (ProgType as Record<string, number>)[name];
      if (id === undefined || NEEDS_TARGET.has(name)) continue;
      expect({ name, have: haveProgType(id) }).toEqual({ name, have: theirs });
      compared++;
    }
    expect(compared).toBeGreaterThan(25);
    expect(haveProgType(9999)).toBe(false);
  });

  pit("map types agree with bpftool", () => {
    if (typeof features === "string") return;
    let compared = 0;
    for (const [key, theirs] of Object.entries(features.map_types)) {
      const name = key
        .replace(/^have_/, "")
        .replace(/_map_type$/, "")
        .toUpperCase();
      const id = (MapType as Record<string, number>)[name];
      if (id === undefined || NEEDS_TARGET.has(name)) continue;
      expect({ name, have: haveMapType(id) }).toEqual({ name, have: theirs });
      compared++;
    }
    expect(compared).toBeGreaterThan(20);
    expect(haveMapType(9999)).toBe(false);
  });

  pit("helpers: what the ring buffer and perf tests load is available, skb helpers are not for XDP", () => {
    // ringbuf.test.ts and perfbuf.test.ts load XDP programs calling these.
    for (const helper of [1, 25, 130, 131, 132, 133]) expect(haveHelper(ProgType.XDP, helper)).toBe(true);
    // bpf_skb_store_bytes (9) takes an sk_buff: the verifier refuses it for XDP by name.
    expect(haveHelper(ProgType.XDP, 9)).toBe(false);
    expect(haveHelper(ProgType.SOCKET_FILTER, 99_999)).toBe(false);
  });
});
