/**
 * simulate() against the kernel: every XDP, tc, socket-filter, cgroup_skb and raw-tracepoint
 * program of the fixtures runs under BPF_PROG_TEST_RUN (loaded by the object loader) and in the
 * simulator on the same inputs; the return values, the packets out and every map's contents
 * afterwards (read through the same BpfMapLike API) must agree. Per-CPU values are compared as
 * sums over CPUs (the kernel runs the test on whichever CPU it likes).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { helperByName } from "../../src/abi/helpers.js";
import { openObject } from "../../src/elf/object/open.js";
import type { ObjectSpec } from "../../src/elf/object/types.js";
import { UsageError } from "../../src/errors.js";
import { type LoadedObject, loadObject } from "../../src/loader/object.js";
import type { BpfMapLike } from "../../src/loader/object-map.js";
import { possibleCpuCount } from "../../src/loader/sys.js";
import { VmFault } from "../../src/vm/errors.js";
import type { VmEngine } from "../../src/vm/interpreter.js";
import { type Simulation, simulate } from "../../src/vm/simulate.js";
import { testRunUnavailable } from "./kernel-probe.js";

const unavailable = testRunUnavailable();
if (unavailable) console.warn(`skipping kernel differential: ${unavailable}`);

// ---- packets ----
function ether(proto: number, payload: Uint8Array, dst = [0, 0, 0, 0, 0, 0]): Uint8Array {
  const b = new Uint8Array(14 + payload.length);
  b.set(dst, 0);
  b.set([2, 0, 0, 0, 0, 1], 6);
  b[12] = proto >> 8;
  b[13] = proto & 0xff;
  b.set(payload, 14);
  return b;
}
function ipv4(proto: number, l4: Uint8Array, src = [10, 0, 0, 1], ihl = 5): Uint8Array {
  const hl = ihl * 4;
  const b = new Uint8Array(hl + l4.length);
  b[0] = 0x40 | ihl;
  b[2] = (b.length >> 8) & 0xff;
  b[3] = b.length & 0xff;
  b[8] = 64;
  b[9] = proto;
  b.set(src, 12);
  b.set([10, 0, 0, 2], 16);
  b.set(l4, hl);
  return b;
}
function ports(sport: number, dport: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  b[0] = sport >> 8;
  b[1] = sport & 0xff;
  b[2] = dport >> 8;
  b[3] = dport & 0xff;
  return b;
}
const udp = (dport: number, src?: number[]) => ether(0x0800, ipv4(17, ports(1234, dport, 16), src));
const tcp = (dport: number) => ether(0x0800, ipv4(6, ports(40000, dport, 20)));
const tcpShort = (dport: number) => ether(0x0800, ipv4(6, ports(40000, dport, 19)));
const PACKETS: readonly Uint8Array[] = [
  udp(53),
  udp(9999),
  udp(8080),
  udp(8080, [127, 0, 0, 1]),
  tcp(80),
  tcp(443),
  tcpShort(80),
  ether(0x0800, ipv4(1, new Uint8Array(8))),
  ether(0x0800, ipv4(17, ports(1, 9999, 8), [10, 0, 0, 1], 6)),
  ether(0x0806, new Uint8Array(28)),
  ether(0x86dd, new Uint8Array(40)),
  ether(0x0800, new Uint8Array(10)),
  ether(0x0800, ipv4(17, ports(5, 53, 8)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  ether(0x0800, ipv4(6, ports(1, 80, 20)), [0x01, 0x00, 0x5e, 0, 0, 1]),
  new Uint8Array(14),
  ether(0x0800, ipv4(17, ports(7, 7, 1400))),
];

/** Raw tracepoint arguments: scalars, and "pointers" nothing maps (reads fault the same way in both). */
const RAW_TP_ARGS: readonly (readonly bigint[])[] = [
  [0n, 0n],
  [0n, 59n],
  [0x1000n, 1n],
  [0n, 231n],
  [0xdeadbeefn, 0xffffffffffffffffn],
];

const FIXTURES = [
  "xdp_parse",
  "tc_classifier",
  "socket_filter",
  "cgroup_skb",
  "legacy_maps",
  "nobtf",
  "subprogs",
  "core",
  "core_multi",
  "core_subprog",
  "core_types",
  "raw_tp",
];
const PACKET_TYPES = new Set(["xdp", "sched_cls", "socket_filter", "cgroup_skb"]);
const RUNNABLE = new Set([...PACKET_TYPES, "raw_tracepoint"]);
const SKIP_MAPS = new Set([
  "perf_event_array",
  "ringbuf",
  "prog_array",
  "array_of_maps",
  "hash_of_maps",
  "devmap",
  // user space cannot read an xskmap (EOPNOTSUPP); offline it is always empty
  "xskmap",
]);

function normal(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (Array.isArray(v)) return v.map(normal);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normal(x)]));
  return v;
}

/** Per-CPU values summed (numbers, or field by field for structs). */
function sumCpus(values: readonly unknown[]): unknown {
  const first = values[0];
  if (first !== null && typeof first === "object" && !(first instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(first))
      out[k] = sumCpus(values.map((v) => (v as Record<string, unknown>)[k]));
    return out;
  }
  return values.reduce((a: bigint, x) => a + BigInt(x as bigint | number), 0n);
}

/** Map contents as comparable data: per-CPU values summed. */
function contents(m: BpfMapLike, perCpu: boolean): unknown {
  const out: [unknown, unknown][] = [];
  for (const [k, v] of m.entries()) {
    const val = perCpu && Array.isArray(v) ? sumCpus(v) : v;
    out.push([normal(k), normal(val)]);
  }
  out.sort((a, b) => JSON.stringify(a[0]).localeCompare(JSON.stringify(b[0])));
  return out;
}

function selfTask() {
  const comm = readFileSync("/proc/self/comm", "utf8").trim();
  return {
    pid: process.pid,
    tgid: process.pid,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    comm,
  };
}

const loaded: LoadedObject[] = [];
const taskReaders: string[] = [];
const clockReaders: string[] = [];
/** Helper ids of the clock reads (from src/abi's helper table). */
const CLOCK_HELPERS = new Set(
  ["bpf_ktime_get_ns", "bpf_ktime_get_boot_ns", "bpf_ktime_get_coarse_ns", "bpf_ktime_get_tai_ns"].map(
    (n) => helperByName(n)!.id,
  ),
);
afterAll(() => {
  for (const l of loaded) l.close();
  if (taskReaders.length)
    console.info(`maps not compared (programs read the live task_struct): ${taskReaders.join(", ")}`);
  if (clockReaders.length)
    console.info(`maps not compared (programs store the kernel's clock): ${clockReaders.join(", ")}`);
});

/** Run every runnable program of an object in the kernel and the simulator and compare. */
async function compareObject(
  name: string,
  spec: ObjectSpec,
  notSimulated: string[],
  engine: VmEngine = "interp",
): Promise<number> {
  const progs = spec.programs.filter((p) => RUNNABLE.has(p.type.name));
  let compared = 0;
  for (const p of progs) {
    const live = await loadObject(spec, { programs: [p.name] });
    loaded.push(live);
    const sim: Simulation = simulate(spec, { cpus: possibleCpuCount(), task: selfTask(), engine });
    const lp = live.program(p.name);
    const sp = sim.program(p.name);
    try {
      if (PACKET_TYPES.has(p.type.name)) {
        for (const [i, packet] of PACKETS.entries()) {
          const what = `${name}/${p.name} packet ${i}`;
          let k: ReturnType<typeof lp.testRun>;
          try {
            k = lp.testRun({ data: packet });
          } catch (e) {
            // the kernel refused the input: the simulator must refuse it too
            expect(() => sp.run({ packet }), `${what}: kernel said ${(e as Error).message}`).toThrow(
              UsageError,
            );
            continue;
          }
          const s = sp.run({ packet });
          expect(s.retval, what).toBe(k.retval);
          expect(Buffer.from(s.packetOut ?? []).toString("hex"), what).toBe(
            Buffer.from(k.data).toString("hex"),
          );
          if (s.ctxOut) {
            // with a zeroed __sk_buff in, the kernel copies its mark, priority, cb... back out
            // (a second run on both sides, so the maps stay in step)
            const kc = lp.testRun({ data: packet, ctx: new Uint8Array(192) });
            const sc = sp.run({ packet });
            expect(sc.retval, `${what} (with ctx)`).toBe(kc.retval);
            expect(Buffer.from(sc.ctxOut ?? []).toString("hex"), `${what} ctx out`).toBe(
              Buffer.from(kc.ctx).toString("hex"),
            );
          }
        }
      } else {
        for (const args of RAW_TP_ARGS) {
          const ctx = new Uint8Array(12 * 8);
          const dv = new DataView(ctx.buffer);
          args.forEach((a, i) => {
            dv.setBigUint64(i * 8, a, true);
          });
          const k = lp.testRun({ ctx, ctxSizeOut: 0 });
          const s = sp.run({ ctx });
          expect(s.retval, `${name}/${p.name} args ${args}`).toBe(k.retval);
        }
      }
    } catch (e) {
      if (e instanceof VmFault && (e.kind === "unknown-helper" || e.kind === "unsupported")) {
        notSimulated.push(`${name}/${p.name}: ${e.detail}`);
        live.close();
        continue;
      }
      throw e;
    }
    compared++;
    // programs that read the real current task_struct (CO-RE reads through bpf_get_current_task)
    // see the kernel's memory, which the simulator only has as an image the test provides
    if (p.insns.some((x) => x.opcode === 0x85 && x.src === 0 && (x.imm === 35 || x.imm === 158))) {
      taskReaders.push(p.name);
      live.close();
      continue;
    }
    // programs that store the clock (bpf_ktime_get_*_ns) keep the kernel's time in their maps; the
    // simulator's clock is the test's, so those values cannot be equal
    if (p.insns.some((x) => x.opcode === 0x85 && x.src === 0 && CLOCK_HELPERS.has(x.imm))) {
      clockReaders.push(p.name);
      live.close();
      continue;
    }
    for (const m of spec.maps) {
      if (SKIP_MAPS.has(m.typeName)) continue;
      const perCpu = m.typeName.includes("percpu");
      expect(contents(sim.map(m.name), perCpu), `${name}/${p.name} map ${m.name}`).toEqual(
        contents(live.map(m.name), perCpu),
      );
    }
    live.close();
  }
  return compared;
}

describe.skipIf(unavailable !== undefined)("simulate() equals BPF_PROG_TEST_RUN on the fixtures", () => {
  for (const engine of ["interp", "jit"] as const) {
    for (const name of FIXTURES) {
      it(`${name} (${engine})`, async () => {
        const spec: ObjectSpec = await openObject(`test/fixtures/obj/${name}.el.v3.o`);
        const notSimulated: string[] = [];
        expect(await compareObject(name, spec, notSimulated, engine)).toBeGreaterThan(0);
        expect(notSimulated).toEqual([]);
      });
    }
  }
});

const CORPUS = "test/fixtures/verifier-corpus/obj/accept";
const corpus = existsSync(CORPUS)
  ? readdirSync(CORPUS)
      .filter((f) => f.endsWith(".o"))
      .sort()
  : [];

describe.skipIf(unavailable !== undefined || corpus.length === 0)(
  "simulate() equals BPF_PROG_TEST_RUN on the verifier corpus's accepted programs",
  () => {
    const notSimulated: string[] = [];
    let compared = 0;
    afterAll(() => {
      console.info(`corpus: ${compared} programs compared with the kernel`);
      if (notSimulated.length)
        console.info(`corpus programs using what the simulator lacks:\n  ${notSimulated.join("\n  ")}`);
    });
    for (const engine of ["interp", "jit"] as const) {
      for (const file of corpus) {
        it(`${file} (${engine})`, async () => {
          const spec = await openObject(`${CORPUS}/${file}`);
          compared += await compareObject(file, spec, notSimulated, engine);
        });
      }
    }
  },
);

describe.skipIf(unavailable !== undefined || !existsSync(`${CORPUS}/xdp_redirect_devmap.o`))(
  "bpf_redirect_map through a filled devmap",
  () => {
    it("redirects where the slot holds a device, passes where it is empty", async () => {
      const spec = await openObject(`${CORPUS}/xdp_redirect_devmap.o`);
      const live = await loadObject(spec);
      loaded.push(live);
      const sim = simulate(spec);
      const packet = ether(0x0800, ipv4(17, ports(1, 2, 8)));
      // rx queue 0 -> slot 0: empty first (the fallback action, XDP_PASS), then the loopback device
      for (const filled of [false, true]) {
        if (filled) {
          live.map("tx_port").set(0, 1);
          sim.map("tx_port").set(0, 1);
        }
        const k = live.program("xdp_forward").testRun({ data: packet });
        const s = sim.program("xdp_forward").run({ packet });
        expect(s.retval, `filled ${filled}`).toBe(k.retval);
        expect(s.redirect?.ifindex).toBe(filled ? 1 : undefined);
      }
      live.close();
    });
  },
);
