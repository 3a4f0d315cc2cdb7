// loadObject against the kernel: every fixture libbpf 1.1.2 loads, loads here too; map
// operations round-trip through the BTF codec for every map type the fixtures use, and what we
// decode equals what bpftool decodes from the same kernel map (its BTF-formatted JSON dump);
// globals set before load, .rodata frozen, max_entries changes, pinned maps reused; load/close
// cycles leave the fd count unchanged.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Btf } from "../../src/elf/btf/btf.js";
import { openObjectSync } from "../../src/elf/object/open.js";
import type { ObjectSpec } from "../../src/elf/object/types.js";
import { mapUpdate } from "../../src/loader/bpf.js";
import { MapType } from "../../src/loader/consts.js";
import { BpfSyscallError } from "../../src/loader/errors.js";
import { loadObject, ProgramLoadError } from "../../src/loader/object.js";
import type { LiveMap } from "../../src/loader/object-map.js";
import { probeBpf } from "../../src/loader/probe.js";
import { possibleCpuCount } from "../../src/loader/sys.js";
import type { BtfValue } from "../../src/loader/values.js";

const probe = probeBpf();
if (!probe.ok) console.warn(`SKIP loader object kernel tests: ${probe.reason}`);
const kit = probe.ok ? it : it.skip;

let haveBpftool = false;
try {
  execFileSync("bpftool", ["version"], { stdio: "ignore" });
  haveBpftool = true;
} catch {
  console.warn("SKIP bpftool cross-checks: bpftool not found");
}
const bkit = probe.ok && haveBpftool ? it : it.skip;

interface Golden {
  readonly object: string;
  readonly loads: boolean;
  readonly error: string | null;
}
const golden: readonly Golden[] = JSON.parse(readFileSync("test/fixtures/golden/libbpf-load.json", "utf8"));
const open = (f: string): ObjectSpec => openObjectSync(new Uint8Array(readFileSync(f)), { file: f });

/** bpftool's BTF-formatted view of a map, normalised to our value shapes. */
function bpftoolDump(id: number): { key: unknown; value: unknown }[] {
  const out = JSON.parse(execFileSync("bpftool", ["-j", "map", "dump", "id", String(id)]).toString()) as {
    formatted?: { key?: unknown; value?: unknown; values?: { cpu: number; value: unknown }[] };
  }[];
  return out.map((e) => ({
    key: e.formatted?.key ?? 0,
    value: e.formatted?.values ? e.formatted.values.map((v) => v.value) : e.formatted?.value,
  }));
}

/**
 * Compare our decoded value with bpftool's formatted one: bpftool lists DATASEC variables as
 * one-key objects and prints char arrays without a NUL as number arrays, where we give strings.
 */
function same(ours: BtfValue, theirs: unknown, btf?: Btf): boolean {
  if ((typeof ours === "bigint" || typeof ours === "number") && typeof theirs === "string" && btf) {
    // bpftool names enumerators; we decode enums to numbers.
    const named = btf.types
      .flatMap((t) => (t.kind === "ENUM" ? t.values : []))
      .find((v) => v.name === theirs);
    return named !== undefined && BigInt(named.value) === BigInt(ours);
  }
  if (typeof ours === "bigint" || typeof ours === "number")
    return typeof theirs === "number" && Number(ours) === theirs;
  if (typeof ours === "boolean") return theirs === ours;
  if (typeof ours === "string") {
    if (typeof theirs === "string") return theirs === ours;
    if (Array.isArray(theirs))
      return (
        Buffer.from(theirs as number[])
          .toString("utf8")
          .replace(/\0.*$/s, "") === ours
      );
    return false;
  }
  if (ours instanceof Uint8Array) return true;
  if (Array.isArray(ours))
    return (
      Array.isArray(theirs) && theirs.length === ours.length && ours.every((x, i) => same(x, theirs[i], btf))
    );
  if (typeof theirs !== "object" || theirs === null) return false;
  let t = theirs as Record<string, unknown>;
  const keys = Object.keys(t);
  if (keys.length === 1 && Array.isArray(t[keys[0]!]) && !(keys[0]! in (ours as object))) {
    // DATASEC: {".data": [{a: 1}, {b: 2}]}
    t = Object.assign({}, ...(t[keys[0]!] as object[]));
  }
  return Object.entries(ours).every(([k, v]) => k in t && same(v as BtfValue, t[k], btf));
}

const loadable = golden.filter((g) => g.loads && !g.object.includes(".eb."));
const rejected = golden.filter((g) => !g.loads && g.object.includes("/reject/") && g.object.includes(".el."));

describe("loadObject", () => {
  kit(
    "loads every fixture that libbpf 1.1.2 loads, with all its maps and programs",
    async () => {
      expect(loadable.length).toBeGreaterThan(60);
      for (const g of loadable) {
        const spec = open(g.object);
        const obj = await loadObject(spec);
        try {
          expect([...obj.programs.keys()].sort(), g.object).toEqual(
            spec.programs
              .filter((p) => p.autoload)
              .map((p) => p.name)
              .sort(),
          );
          expect([...obj.maps.keys()].sort(), g.object).toEqual(spec.maps.map((m) => m.name).sort());
          if (spec.btf)
            expect(obj.btfFd, `${g.object}: BTF accepted (${obj.warnings.join("; ")})`).toBeDefined();
        } finally {
          obj.close();
        }
      }
    },
    120_000,
  );

  kit("rejects the reject fixtures with the verifier's own line (as libbpf logged it)", async () => {
    expect(rejected.length).toBeGreaterThan(0);
    for (const g of rejected) {
      const err = await loadObject(open(g.object)).then(
        (o) => {
          o.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err, g.object).toBeInstanceOf(ProgramLoadError);
      expect((err as ProgramLoadError).reason, g.object).toBe(g.error);
    }
  });

  kit("a big-endian object is refused in one line", async () => {
    await expect(loadObject(open("test/fixtures/obj/maps_btf.eb.v1.o"))).rejects.toThrow(/big-endian/);
  });

  bkit(
    "map ops round-trip for every map type the fixtures use, and decode as bpftool does",
    async () => {
      const seen = new Set<string>();
      const objects = [...new Set(loadable.map((g) => g.object.replace(/\.v\d\.o$/, ".v1.o")))].filter((f) =>
        readdirSync("test/fixtures/obj").includes(f.split("/").pop()!),
      );
      for (const f of objects) {
        const spec = open(f);
        using obj = await loadObject(spec);
        for (const m of obj.maps.values()) {
          const typeName = spec.map(m.name).typeName;
          if (m.type === MapType.RINGBUF || m.type === MapType.PERF_EVENT_ARRAY) {
            expect([...m.entries()]).toEqual([]);
            seen.add(typeName);
            continue;
          }
          if (
            m.type === MapType.PROG_ARRAY ||
            m.type === MapType.ARRAY_OF_MAPS ||
            m.type === MapType.HASH_OF_MAPS
          ) {
            // Slots hold fds going in and ids coming out: what the object's init filled must be there.
            const init = spec.map(m.name).initSlots ?? [];
            for (const s of init) {
              const v = m.get(s.index);
              const target = obj.maps.get(s.name) ?? obj.programs.get(s.name);
              expect(v, `${m.name}[${s.index}]`).toBe(target!.id);
            }
            seen.add(typeName);
            continue;
          }
          roundTrip(m, spec.map(m.name).readonly);
          // Cross-check every entry with bpftool's own BTF decoding of the same kernel map.
          const theirs = bpftoolDump(m.id);
          const ours = [...m.entries()];
          expect(ours.length, m.name).toBe(theirs.length);
          for (const [k, v] of ours) {
            const t = theirs.find((e) => same(k, e.key));
            expect(t, `${f} ${m.name} key ${String(k)}`).toBeDefined();
            expect(
              same(v, t!.value, m.btf),
              `${f} ${m.name}: ${JSON.stringify(v, big)} vs ${JSON.stringify(t!.value)}`,
            ).toBe(true);
          }
          seen.add(typeName);
        }
      }
      // Every map type any loadable fixture declares was exercised.
      const declared = new Set(loadable.flatMap((g) => open(g.object).maps.map((m) => m.typeName)));
      expect([...seen].sort()).toEqual([...declared].sort());
    },
    120_000,
  );

  kit("batch update, lookup and delete through the codec", async () => {
    using obj = await loadObject(open("test/fixtures/obj/maps_btf.el.v1.o"));
    const m = obj.map("percpu_hash");
    const entries = Array.from({ length: 60 }, (_, i) => [i, BigInt(i * 1000)] as const);
    expect(m.setBatch(entries)).toBe(60);
    const got = new Map([...m.entriesBatch(16)].map(([k, v]) => [k, v]));
    expect(got.size).toBe(60);
    for (const [k, v] of entries) expect(got.get(k)).toEqual(Array(possibleCpuCount()).fill(v));
    expect(m.deleteBatch(entries.slice(0, 25).map(([k]) => k))).toBe(25);
    expect(m.size).toBe(35);
    expect([...m.entriesBatch(7, true)]).toHaveLength(35);
    expect(m.size).toBe(0);
  });

  kit("--set writes typed globals before load; .rodata is frozen; data maps stay writable", async () => {
    const spec = open("test/fixtures/obj/global_data.el.v1.o");
    using obj = await loadObject(spec, {
      set: { target_pid: "4242", verbose: "true", greeting: "hi", last_id: -5 },
    });
    const ro = obj.map("global_d.rodata").get(0) as Record<string, BtfValue>;
    expect(ro.target_pid).toBe(4242);
    expect(ro.verbose).toBe(true);
    expect(ro.greeting).toBe("hi");
    expect((obj.map("global_d.data").get(0) as Record<string, BtfValue>).last_id).toBe(-5);
    const roMap = obj.map("global_d.rodata");
    expect(() => mapUpdate(roMap.fd, new Uint8Array(4), new Uint8Array(roMap.valueSize))).toThrow(
      BpfSyscallError,
    );
    const data = obj.map("global_d.data");
    const cur = data.get(0) as Record<string, BtfValue>;
    data.set(0, { ...cur, calls: 7n });
    expect((data.get(0) as Record<string, BtfValue>).calls).toBe(7n);
  });

  kit("bad --set values and unknown names are one-line usage errors", async () => {
    const spec = open("test/fixtures/obj/global_data.el.v1.o");
    await expect(loadObject(spec, { set: { nosuch: "1" } })).rejects.toThrow(/no global variable 'nosuch'/);
    await expect(loadObject(spec, { set: { target_pid: "abc" } })).rejects.toThrow(/not a number/);
    await expect(loadObject(spec, { set: { greeting: "far too long" } })).rejects.toThrow(/longer than 8/);
  });

  kit("max_entries can be changed before load; pinned maps are reused", async () => {
    const spec = open("examples/syscall-count/syscall_count.bpf.o");
    const dir = mkdtempSync("/sys/fs/bpf/tsbpf-test-");
    try {
      {
        using a = await loadObject(spec, { maxEntries: { syscall_counts: 77 } });
        const m = a.map("syscall_counts");
        expect(m.maxEntries).toBe(77);
        m.set(1, 123n);
        m.pin(`${dir}/counts`);
      }
      using b = await loadObject(spec, {
        maxEntries: { syscall_counts: 77 },
        pinnedMaps: { syscall_counts: `${dir}/counts` },
      });
      expect(b.map("syscall_counts").get(1)).toBe(123n);
      await expect(loadObject(spec, { pinnedMaps: { syscall_counts: `${dir}/counts` } })).rejects.toThrow(
        /incompatible.*max_entries 77 != 1024/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  kit("CO-RE against a target BTF without the kernel's types names the missing access", async () => {
    const spec = open("test/fixtures/obj/core.el.v1.o");
    const target = open("test/fixtures/obj/maps_btf.el.v1.o").btf!;
    const err = (await loadObject(spec, { targetBtf: target }).catch((e: unknown) => e)) as ProgramLoadError;
    expect(err).toBeInstanceOf(ProgramLoadError);
    expect(err.message).toMatch(
      /CO-RE: struct task_struct\.\w+, access string [\d:]+, not found in target BTF: instruction \d+ poisoned/,
    );
  });

  kit("failed loads (verifier rejects, bad globals) leave no fd behind", async () => {
    const reject = open("test/fixtures/obj/reject/null_check.el.v1.o");
    const counter = open("examples/syscall-count/syscall_count.bpf.o");
    const fds = (): number => readdirSync("/proc/self/fd").length;
    await loadObject(reject).catch(() => undefined);
    const before = fds();
    for (let i = 0; i < 300; i++) {
      await expect(loadObject(reject)).rejects.toBeInstanceOf(ProgramLoadError);
      await expect(loadObject(counter, { set: { nosuch: 1 } })).rejects.toThrow(/no global variable/);
    }
    expect(fds()).toBe(before);
  });

  kit(
    "10,000 load/close cycles leave the process's fd count unchanged",
    async () => {
      const spec = open("examples/syscall-count/syscall_count.bpf.o");
      const fds = (): number => readdirSync("/proc/self/fd").length;
      // Warm-up: caches (kernel BTF is not needed here, libc handles) settle first.
      (await loadObject(spec)).close();
      const before = fds();
      for (let i = 0; i < 10_000; i++) {
        const o = await loadObject(spec);
        o.close();
      }
      expect(fds()).toBe(before);
    },
    300_000,
  );
});

const big = (_k: string, v: unknown): unknown => (typeof v === "bigint" ? `${v}n` : v);

/** Write a value derived from the current one, read it back, restore. */
function roundTrip(m: LiveMap, readonly: boolean): void {
  const keys = [...m.keys()];
  if (readonly) return;
  let key: BtfValue | undefined = keys[0];
  if (key === undefined) {
    // Empty hash-like map: make a key from zero bytes.
    key = m.decodeKey(new Uint8Array(m.keySize).fill(1));
  }
  const size = m.perCpu ? Math.ceil(m.valueSize / 8) * 8 * possibleCpuCount() : m.valueSize;
  const zero = m.decodeValue(new Uint8Array(size).fill(0x2a));
  m.set(key, zero);
  expect(m.get(key), m.name).toEqual(zero);
  expect(m.has(key)).toBe(true);
  if (m.type !== MapType.ARRAY && m.type !== MapType.PERCPU_ARRAY) {
    expect(m.delete(key)).toBe(true);
    expect(m.get(key)).toBeUndefined();
    m.set(key, zero);
  }
}
