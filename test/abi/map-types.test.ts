import { describe, expect, it } from "vitest";
import { KERNEL_MAP_TYPES } from "../../src/abi/kernel-enums.js";
import {
  BPF_F_MMAPABLE,
  BPF_F_NO_PREALLOC,
  checkMapShape,
  MAP_TYPES,
  type MapShape,
  mapTypeById,
  mapTypeByName,
} from "../../src/abi/map-types.js";
import { kernel, kernelSkipReason } from "./kernel-probe.js";

describe("map type table", () => {
  it("covers every map type of the kernel, in id order", () => {
    expect(MAP_TYPES.map((m) => m.id)).toEqual(KERNEL_MAP_TYPES.map((m) => m.id));
    expect(mapTypeByName("ringbuf")?.id).toBe(27);
    expect(mapTypeByName("BPF_MAP_TYPE_ARENA")?.name).toBe("arena");
    expect(mapTypeById(19)?.name).toBe("cgroup_storage");
  });
  it("names the brief's bpftool names", () => {
    const names = MAP_TYPES.map((m) => m.name);
    for (const n of ["hash", "array", "prog_array", "perf_event_array", "lpm_trie", "cgrp_storage", "arena"])
      expect(names).toContain(n);
  });
  it("explains a bad shape", () => {
    expect(checkMapShape({ type: 2, keySize: 8, valueSize: 4, maxEntries: 1 })).toEqual([
      "array: key_size 8 invalid, must be 4",
    ]);
    expect(checkMapShape({ type: 27, keySize: 0, valueSize: 0, maxEntries: 4096 })).toEqual([]);
    expect(checkMapShape({ type: 27, keySize: 0, valueSize: 0, maxEntries: 4097 })).toHaveLength(1);
    expect(checkMapShape({ type: 99, keySize: 4, valueSize: 4, maxEntries: 1 })).toEqual([
      "unknown map type 99",
    ]);
  });
});

/**
 * The kernel is the oracle: for each map type whose creation needs nothing beyond sizes and flags,
 * create maps with a valid shape and with each rule broken once, and compare accept/reject with
 * checkMapShape. Types that need BTF (local storages), a struct_ops type or an arena-capable JIT
 * are left out; key/value BTF rules are not exercised here.
 */
describe.skipIf(!kernel)(`map shapes against BPF_MAP_CREATE ${kernelSkipReason}`, () => {
  const valid: Record<string, MapShape> = {};
  const base = (name: string, keySize: number, valueSize: number, maxEntries: number, flags = 0): void => {
    valid[name] = { type: mapTypeByName(name)!.id, keySize, valueSize, maxEntries, flags };
  };
  base("hash", 8, 16, 4);
  base("array", 4, 16, 4);
  base("prog_array", 4, 4, 4);
  base("perf_event_array", 4, 4, 4);
  base("percpu_hash", 8, 16, 4);
  base("percpu_array", 4, 16, 4);
  base("stack_trace", 4, 64, 4);
  base("cgroup_array", 4, 4, 4);
  base("lru_hash", 8, 16, 4);
  base("lru_percpu_hash", 8, 16, 4);
  base("lpm_trie", 8, 8, 4, BPF_F_NO_PREALLOC);
  base("devmap", 4, 4, 4);
  base("sockmap", 4, 8, 4);
  base("cpumap", 4, 4, 4);
  base("xskmap", 4, 4, 4);
  base("sockhash", 8, 8, 4);
  base("cgroup_storage", 16, 8, 0);
  base("reuseport_sockarray", 4, 8, 4);
  base("percpu_cgroup_storage", 8, 8, 0);
  base("queue", 0, 8, 4);
  base("stack", 0, 8, 4);
  base("devmap_hash", 4, 8, 4);
  base("ringbuf", 0, 0, 4096);
  base("bloom_filter", 0, 8, 4);
  base("user_ringbuf", 0, 0, 8192);

  const variants = (s: MapShape): MapShape[] => [
    s,
    { ...s, keySize: s.keySize === 0 ? 4 : 0 },
    { ...s, keySize: s.keySize + 4 },
    { ...s, keySize: 3 },
    { ...s, valueSize: s.valueSize === 0 ? 8 : 0 },
    { ...s, valueSize: s.valueSize + 4 },
    { ...s, valueSize: 12 },
    { ...s, maxEntries: s.maxEntries === 0 ? 1 : 0 },
    { ...s, maxEntries: s.maxEntries + 1 },
    { ...s, flags: 0 },
  ];

  for (const [name, shape] of Object.entries(valid)) {
    it(name, () => {
      for (const v of variants(shape)) {
        const errno = kernel!.mapCreate(v.type, v.keySize, v.valueSize, v.maxEntries, v.flags ?? 0);
        const predicted = checkMapShape(v);
        const label = `${name} key=${v.keySize} value=${v.valueSize} entries=${v.maxEntries} flags=${v.flags}: errno ${errno}, predicted ${JSON.stringify(predicted)}`;
        expect(errno === 0, label).toBe(predicted.length === 0);
      }
    });
  }

  /**
   * BTF key/value types: a hand-made BTF blob with int (4), long (8) and int[4] (16), int[16] (64);
   * each map type is created with the types of its sizes. Left out: lpm_trie (needs a struct key),
   * and the types without key and value (ring buffers), where no BTF check runs.
   */
  it("BTF key/value types are accepted exactly where btfAllowed says", () => {
    const u32s = (...v: number[]) => Buffer.from(new Uint32Array(v).buffer);
    const types = Buffer.concat([
      u32s(1, 0x01000000, 4, 0x01000020), // [1] INT 'int' size 4, signed 32 bits
      u32s(5, 0x01000000, 8, 0x01000040), // [2] INT 'long' size 8, signed 64 bits
      u32s(0, 0x03000000, 0, 1, 1, 4), // [3] ARRAY int[4]
      u32s(0, 0x03000000, 0, 1, 1, 16), // [4] ARRAY int[16]
    ]);
    const strings = Buffer.from("\0int\0long\0");
    const header = Buffer.alloc(24);
    header.writeUInt16LE(0xeb9f, 0);
    header.writeUInt8(1, 2);
    header.writeUInt32LE(24, 4);
    header.writeUInt32LE(0, 8);
    header.writeUInt32LE(types.length, 12);
    header.writeUInt32LE(types.length, 16);
    header.writeUInt32LE(strings.length, 20);
    const fd = kernel!.btfLoad(Buffer.concat([header, types, strings]));
    expect(fd).toBeGreaterThan(0);
    const typeFor: Record<number, number> = { 0: 0, 4: 1, 8: 2, 16: 3, 64: 4 };
    try {
      let checked = 0;
      for (const [name, shape] of Object.entries(valid)) {
        if (name === "lpm_trie" || name.endsWith("ringbuf")) continue;
        // cgroup storage: the u64 key form (the 16-byte form needs struct bpf_cgroup_storage_key)
        const keySize = name === "cgroup_storage" ? 8 : shape.keySize;
        const errno = kernel!.mapCreate(
          shape.type,
          keySize,
          shape.valueSize,
          shape.maxEntries,
          shape.flags ?? 0,
          {
            fd,
            keyTypeId: typeFor[keySize]!,
            valueTypeId: typeFor[shape.valueSize]!,
          },
        );
        expect(errno === 0, `${name}: errno ${errno}`).toBe(mapTypeByName(name)!.btfAllowed);
        checked++;
      }
      expect(checked).toBeGreaterThan(18);
      // Local storages need BTF (btfRequired): refused without it, created with it.
      for (const m of MAP_TYPES.filter((t) => t.btfRequired)) {
        const without = kernel!.mapCreate(m.id, 4, 4, 0, BPF_F_NO_PREALLOC);
        const withBtf = kernel!.mapCreate(m.id, 4, 4, 0, BPF_F_NO_PREALLOC, {
          fd,
          keyTypeId: 1,
          valueTypeId: 1,
        });
        expect([m.name, without === 0, withBtf]).toEqual([m.name, false, 0]);
        expect(
          checkMapShape({ type: m.id, keySize: 4, valueSize: 4, maxEntries: 0, flags: BPF_F_NO_PREALLOC }),
        ).toEqual([`${m.name}: needs BTF key and value types`]);
      }
    } finally {
      kernel!.closeFd(fd);
    }
  });

  it("arena needs BPF_F_MMAPABLE (if this kernel's JIT has arenas)", () => {
    const arena = mapTypeByName("arena")!.id;
    const ok = kernel!.mapCreate(arena, 0, 0, 1, BPF_F_MMAPABLE);
    if (ok === 95 /* EOPNOTSUPP */) return;
    expect(ok).toBe(0);
    expect(kernel!.mapCreate(arena, 0, 0, 1, 0)).not.toBe(0);
    expect(checkMapShape({ type: arena, keySize: 0, valueSize: 0, maxEntries: 1, flags: 0 })).toHaveLength(1);
  });
});
