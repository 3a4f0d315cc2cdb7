// Kernel tests of the bpf() wrappers: maps of several types, programs loaded from hand-built
// instructions and run with PROG_TEST_RUN, verifier logs, info queries, fd hygiene.
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ldImm64 } from "../../src/isa/instruction.js";
import {
  attachSocketFilter,
  createMap,
  detachSocketFilter,
  fdById,
  ids,
  loadProgram,
  mapDelete,
  mapDeleteBatch,
  mapFreeze,
  mapGetNextKey,
  mapInfo,
  mapKeys,
  mapLookup,
  mapLookupAndDelete,
  mapLookupBatch,
  mapUpdate,
  mapUpdateBatch,
  perCpuValueSize,
  progInfo,
  testRun,
} from "../../src/loader/bpf.js";
import { MapType, ProgType, UpdateFlags } from "../../src/loader/consts.js";
import { BpfSyscallError } from "../../src/loader/errors.js";
import { probeBpf } from "../../src/loader/probe.js";
import { getSys, possibleCpuCount } from "../../src/loader/sys.js";
import { add64Imm, exit, jgtReg, ldMapFd, ldxW, mov64Imm, mov64Reg, stB, XDP_TX } from "./asm.js";

const probe = probeBpf();
if (!probe.ok) console.warn(`SKIP loader kernel tests: ${probe.reason}`);
const kit = probe.ok ? it : it.skip;

const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};
const u64 = (n: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
};
const readU32 = (b: Uint8Array, at = 0): number => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
const readU64 = (b: Uint8Array, at = 0): bigint =>
  new DataView(b.buffer, b.byteOffset).getBigUint64(at, true);

describe("maps", () => {
  kit("hash: update, lookup, iterate, delete, NOEXIST/EXIST flags", () => {
    using m = createMap({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16, name: "t_hash" });
    for (let k = 1; k <= 5; k++) mapUpdate(m, u32(k), u64(BigInt(k) * 1000n));
    expect(readU64(mapLookup(m, u32(3), 8)!)).toBe(3000n);
    expect(mapLookup(m, u32(42), 8)).toBeUndefined();
    const keys = [...mapKeys(m, 4)].map((k) => readU32(k)).sort((a, b) => a - b);
    expect(keys).toEqual([1, 2, 3, 4, 5]);
    // NOEXIST on an existing key is EEXIST, EXIST on a missing key is ENOENT.
    const e1 = catchErr(() => mapUpdate(m, u32(1), u64(0n), UpdateFlags.NOEXIST));
    expect(e1.command).toBe("BPF_MAP_UPDATE_ELEM");
    expect(e1.errnoName).toBe("EEXIST");
    expect(catchErr(() => mapUpdate(m, u32(99), u64(0n), UpdateFlags.EXIST)).errnoName).toBe("ENOENT");
    expect(mapDelete(m, u32(2))).toBe(true);
    expect(mapDelete(m, u32(2))).toBe(false);
    expect(readU64(mapLookupAndDelete(m, u32(4), 8)!)).toBe(4000n);
    expect(mapLookup(m, u32(4), 8)).toBeUndefined();
    const info = mapInfo(m);
    expect(info).toMatchObject({
      type: MapType.HASH,
      keySize: 4,
      valueSize: 8,
      maxEntries: 16,
      name: "t_hash",
    });
    expect(info.id).toBeGreaterThan(0);
    // The id is findable through the id iteration and reopens the same map.
    expect([...ids("map")]).toContain(info.id);
    using again = fdById("map", info.id);
    expect(readU64(mapLookup(again, u32(1), 8)!)).toBe(1000n);
  });

  kit("array: fixed keys, out of range, first key, freeze", () => {
    using m = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 });
    expect(readU32(mapLookup(m, u32(2), 4)!)).toBe(0);
    mapUpdate(m, u32(2), u32(77));
    expect(readU32(mapLookup(m, u32(2), 4)!)).toBe(77);
    expect(mapLookup(m, u32(4), 4)).toBeUndefined();
    expect(catchErr(() => mapUpdate(m, u32(9), u32(1))).errnoName).toBe("E2BIG");
    expect(readU32(mapGetNextKey(m, undefined, 4)!)).toBe(0);
    expect(mapGetNextKey(m, u32(3), 4)).toBeUndefined();
    // Arrays cannot delete.
    expect(catchErr(() => mapDelete(m, u32(0))).errnoName).toBe("EINVAL");
    mapFreeze(m);
    expect(catchErr(() => mapUpdate(m, u32(1), u32(1))).errnoName).toBe("EPERM");
  });

  kit("percpu_array: one value slot per possible CPU", () => {
    const cpus = possibleCpuCount();
    const size = perCpuValueSize(4, cpus);
    using m = createMap({ type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 });
    const v = new Uint8Array(size);
    for (let c = 0; c < cpus; c++) new DataView(v.buffer).setUint32(c * 8, 100 + c, true);
    mapUpdate(m, u32(1), v);
    const got = mapLookup(m, u32(1), size)!;
    for (let c = 0; c < cpus; c++) expect(readU32(got, c * 8)).toBe(100 + c);
  });

  kit("lru_hash: evicts when full instead of failing", () => {
    using m = createMap({ type: MapType.LRU_HASH, keySize: 4, valueSize: 4, maxEntries: 64 });
    for (let k = 0; k < 1000; k++) mapUpdate(m, u32(k), u32(k));
    const n = [...mapKeys(m, 4)].length;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(64);
    expect(readU32(mapLookup(m, u32(999), 4)!)).toBe(999);
  });

  kit("ringbuf: created with a power-of-two page multiple, rejects element ops", () => {
    using m = createMap({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 });
    expect(mapInfo(m).type).toBe(MapType.RINGBUF);
    expect(
      catchErr(() => createMap({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 1000 }))
        .errnoName,
    ).toBe("EINVAL");
  });

  kit("batch: update, lookup in steps, delete", () => {
    using m = createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 128 });
    const n = 100;
    const keys = new Uint8Array(4 * n);
    const vals = new Uint8Array(4 * n);
    for (let i = 0; i < n; i++) {
      new DataView(keys.buffer).setUint32(i * 4, i, true);
      new DataView(vals.buffer).setUint32(i * 4, i * 3, true);
    }
    expect(mapUpdateBatch(m, keys, vals, n)).toBe(n);
    const seen = new Map<number, number>();
    let token: Uint8Array | undefined;
    let steps = 0;
    do {
      const r = mapLookupBatch(m, { keySize: 4, valueSize: 4, count: 16, inBatch: token });
      for (let i = 0; i < r.count; i++) seen.set(readU32(r.keys, i * 4), readU32(r.values, i * 4));
      token = r.next;
      steps++;
    } while (token && steps < 100);
    expect(seen.size).toBe(n);
    for (const [k, v] of seen) expect(v).toBe(k * 3);
    expect(mapDeleteBatch(m, keys.subarray(0, 4 * 40), 40)).toBe(40);
    expect([...mapKeys(m, 4)].length).toBe(n - 40);
  });
});

describe("programs", () => {
  kit("socket filter: returns skb->len, run with PROG_TEST_RUN", () => {
    const { fd, log } = loadProgram({
      type: ProgType.SOCKET_FILTER,
      insns: [ldxW(0, 1, 0), exit()],
      name: "t_len",
    });
    using prog = fd;
    expect(log).toBe("");
    const data = new Uint8Array(64).map((_, i) => i);
    const r = testRun(prog, { data, repeat: 10 });
    // The kernel builds an skb from the frame and pulls the 14-byte Ethernet header.
    expect(r.retval).toBe(data.byteLength - 14);
    // The payload after the (rebuilt, zeroed) Ethernet header comes back unchanged.
    expect(r.data.byteLength).toBe(data.byteLength);
    expect(r.data.subarray(14)).toEqual(data.subarray(14));
    expect(r.duration).toBeGreaterThanOrEqual(0);
    const info = progInfo(prog);
    expect(info.type).toBe(ProgType.SOCKET_FILTER);
    expect(info.name).toBe("t_len");
    // Names are made acceptable to the kernel rather than failing the load.
    using named = loadProgram({
      type: ProgType.SOCKET_FILTER,
      insns: [ldxW(0, 1, 0), exit()],
      name: "tp/sys-enter:long_name",
    }).fd;
    expect(progInfo(named).name).toBe("tp_sys_enter_lo");
    expect(info.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(info.runCnt).toBe(0n); // stats are off unless enabled
  });

  kit("ctx_in/ctx_out: a socket filter reads the __sk_buff mark the test run supplies", () => {
    using prog = loadProgram({ type: ProgType.SOCKET_FILTER, insns: [ldxW(0, 1, 8), exit()] }).fd;
    // struct __sk_buff starts len, pkt_type, mark: only fields from mark on may be set.
    const ctx = new Uint8Array(12);
    new DataView(ctx.buffer).setUint32(8, 77, true);
    const r = testRun(prog, { data: new Uint8Array(32), ctx });
    expect(r.retval).toBe(77);
    // The kernel hands back its whole __sk_buff (our 12-byte buffer is grown on ENOSPC).
    expect(r.ctx.byteLength).toBeGreaterThan(12);
    expect(readU32(r.ctx, 8)).toBe(77);
    // A non-zero len is refused by the kernel.
    new DataView(ctx.buffer).setUint32(0, 5, true);
    expect(catchErr(() => testRun(prog, { data: new Uint8Array(32), ctx })).errnoName).toBe("EINVAL");
  });

  kit("socket filter attach with SO_ATTACH_BPF; a non-filter program is refused", () => {
    const sys = getSys();
    const sock = sys.socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0);
    expect(sock).toBeGreaterThanOrEqual(0);
    try {
      using prog = loadProgram({ type: ProgType.SOCKET_FILTER, insns: [mov64Imm(0, 0), exit()] }).fd;
      attachSocketFilter(sock, prog);
      detachSocketFilter(sock);
      using xdp = loadProgram({ type: ProgType.XDP, insns: [mov64Imm(0, 2), exit()] }).fd;
      const e = catchErr(() => attachSocketFilter(sock, xdp));
      expect(e.command).toBe("setsockopt");
      expect(e.errnoName).toBe("EINVAL");
    } finally {
      sys.close(sock);
    }
  });

  kit("xdp: writes the first packet byte and returns XDP_TX", () => {
    // r2 = data; r3 = data_end; if r2 + 1 > r3 goto out; *(u8 *)r2 = 0xaa; out: r0 = XDP_TX
    const insns = [
      ldxW(2, 1, 0),
      ldxW(3, 1, 4),
      mov64Reg(4, 2),
      add64Imm(4, 1),
      jgtReg(4, 3, 1),
      stB(2, 0, 0xaa),
      mov64Imm(0, XDP_TX),
      exit(),
    ];
    using prog = loadProgram({ type: ProgType.XDP, insns, name: "t_xdp" }).fd;
    const data = new Uint8Array(60).fill(7);
    const r = testRun(prog, { data });
    expect(r.retval).toBe(XDP_TX);
    const expected = data.slice();
    expected[0] = 0xaa;
    expect(r.data).toEqual(expected);
  });

  kit("a rejected program carries the verifier log (R0 !read_ok)", () => {
    const e = catchErr(() => loadProgram({ type: ProgType.SOCKET_FILTER, insns: [exit()] }));
    expect(e.command).toBe("BPF_PROG_LOAD");
    expect(e.errnoName).toBe("EACCES");
    expect(e.log).toContain("R0 !read_ok");
    expect(e.message).toContain("R0 !read_ok");
  });

  kit("map fd in ld_imm64: program reads a map value", () => {
    using m = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    mapUpdate(m, u32(0), u32(1234));
    // r1 = map; r2 = fp - 4; *(u32 *)(fp - 4) = 0; r0 = lookup(r1, r2); if r0 == 0 exit 0; r0 = *r0
    const insns = [
      mov64Imm(0, 0),
      { opcode: 0x62, dst: 10, src: 0, off: -4, imm: 0 },
      ldMapFd(1, m.value),
      mov64Reg(2, 10),
      add64Imm(2, -4),
      { opcode: 0x85, dst: 0, src: 0, off: 0, imm: 1 },
      { opcode: 0x15, dst: 0, src: 0, off: 1, imm: 0 },
      ldxW(0, 0, 0),
      exit(),
    ];
    using prog = loadProgram({ type: ProgType.SOCKET_FILTER, insns }).fd;
    expect(testRun(prog, { data: new Uint8Array(20) }).retval).toBe(1234);
    expect(progInfo(prog).mapIds).toEqual([mapInfo(m).id]);
    // The same program with the map named by index into fd_array (BPF_PSEUDO_MAP_IDX).
    using other = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    const byIdx = insns.map((i, n) => (n === 2 ? ldImm64(1, 1n, 5 /* PSEUDO_MAP_IDX */) : i));
    using prog2 = loadProgram({ type: ProgType.SOCKET_FILTER, insns: byIdx, fdArray: [other, m] }).fd;
    expect(testRun(prog2, { data: new Uint8Array(20) }).retval).toBe(1234);
  });

  kit("log growth: a level-2 log far bigger than the first buffer is captured whole", () => {
    const body = Array.from({ length: 300 }, (_, i) => mov64Imm(i % 9, i));
    const r = loadProgram({
      type: ProgType.SOCKET_FILTER,
      insns: [...body, mov64Imm(0, 0), exit()],
      logLevel: 2,
      logSize: 128,
    });
    r.fd.close();
    expect(r.attempts).toBeGreaterThan(1);
    expect(r.log.length).toBeGreaterThan(128 * 16);
    // Every instruction appears in the level-2 trace, and the closing statistics line survived.
    expect(r.log).toContain("299: (b7) r2 = 299");
    expect(r.log).toMatch(/processed \d+ insns/);
  });
});

describe("fd hygiene", () => {
  kit("10,000 create/close cycles leave the fd count unchanged; double close is harmless", () => {
    const count = (): number => readdirSync("/proc/self/fd").length;
    const before = count();
    for (let i = 0; i < 10_000; i++) {
      const m = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
      m.close();
      m.close();
    }
    expect(count()).toBe(before);
    const m = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    m.close();
    expect(() => m.value).toThrow(/used after close/);
  });
});

function catchErr(fn: () => unknown): BpfSyscallError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BpfSyscallError) return e;
    throw e;
  }
  throw new Error("expected a BpfSyscallError");
}
