/**
 * The sk_lookup and sock_ops contexts. sk_lookup against the kernel: BPF_PROG_TEST_RUN runs
 * test/vm/fixtures/sk_lookup_sock_ops.o's `lookup` on struct bpf_sk_lookup inputs (IPv4, IPv6,
 * values wider than the kernel keeps, and inputs the kernel refuses); the simulator must give the
 * same retval, ctx out and `seen` map (every context field, whole and narrow), or refuse the same
 * inputs. sock_ops has no kernel test run: the expected values are the fields the test gives.
 */
import { afterAll, describe, expect, it } from "vitest";
import { openObject } from "../../src/elf/object/open.js";
import { UsageError } from "../../src/errors.js";
import { type LoadedObject, loadObject } from "../../src/loader/object.js";
import type { VmEngine } from "../../src/vm/interpreter.js";
import { simulate } from "../../src/vm/simulate.js";
import { testRunUnavailable } from "./kernel-probe.js";

const FIXTURE = "test/vm/fixtures/sk_lookup_sock_ops.o";

const unavailable = testRunUnavailable();
if (unavailable) console.warn(`skipping the sk_lookup kernel differential: ${unavailable}`);

interface Lookup {
  sk?: bigint;
  family: number;
  protocol: number;
  remote4?: number;
  local4?: number;
  remote6?: number;
  local6?: number;
  remotePort: number;
  pad?: number;
  localPort: number;
  ifindex?: number;
}

/** A struct bpf_sk_lookup as user space passes it to BPF_PROG_TEST_RUN. */
function lookupCtx(l: Lookup): Uint8Array {
  const b = new Uint8Array(72);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, l.sk ?? 0n, true);
  v.setUint32(8, l.family, true);
  v.setUint32(12, l.protocol, true);
  v.setUint32(16, l.remote4 ?? 0, true);
  for (let i = 0; i < 16; i++) b[20 + i] = l.remote6 === undefined ? 0 : (l.remote6 + i * 7) & 0xff;
  v.setUint16(36, l.remotePort, false);
  v.setUint16(38, l.pad ?? 0, true);
  v.setUint32(40, l.local4 ?? 0, true);
  for (let i = 0; i < 16; i++) b[44 + i] = l.local6 === undefined ? 0 : (l.local6 + i * 13) & 0xff;
  v.setUint32(60, l.localPort, true);
  v.setUint32(64, l.ifindex ?? 0, true);
  return b;
}

const INPUTS: readonly Lookup[] = [
  { family: 2, protocol: 6, remote4: 0x0100000a, local4: 0x0200000a, remotePort: 40000, localPort: 80 },
  { family: 2, protocol: 17, remote4: 0x0100007f, local4: 0x0100007f, remotePort: 53, localPort: 53 },
  { family: 2, protocol: 6, remote4: 0x0a0a0a0a, local4: 0x01020304, remotePort: 1, localPort: 7777 },
  // the other family's addresses are given but must read as zero
  {
    family: 10,
    protocol: 6,
    remote4: 0x11111111,
    local4: 0x22222222,
    remote6: 3,
    local6: 9,
    remotePort: 443,
    localPort: 8443,
  },
  { family: 10, protocol: 132, remote6: 200, local6: 1, remotePort: 65535, localPort: 65535, pad: 0xabcd },
  // family and protocol are cut to 16 bits
  { family: 0x10002, protocol: 0x70006, remote4: 5, local4: 6, remotePort: 9, localPort: 0 },
  // refused: sk set, a field after local_port set, a port above 65535, an unknown family
  { sk: 1n, family: 2, protocol: 6, remotePort: 1, localPort: 1 },
  { family: 2, protocol: 6, remotePort: 1, localPort: 1, ifindex: 1 },
  { family: 2, protocol: 6, remotePort: 1, localPort: 65536 },
  { family: 99, protocol: 6, remotePort: 1, localPort: 1 },
];

const loaded: LoadedObject[] = [];
afterAll(() => {
  for (const l of loaded) l.close();
});

describe.skipIf(unavailable !== undefined)("sk_lookup: the simulator equals BPF_PROG_TEST_RUN", () => {
  for (const engine of ["interp", "jit"] as VmEngine[]) {
    it(`every field, whole and narrow, retval and ctx out (${engine})`, async () => {
      const spec = await openObject(FIXTURE);
      const live = await loadObject(spec, { programs: ["lookup"] });
      loaded.push(live);
      const sim = simulate(spec, { engine });
      let compared = 0;
      let refused = 0;
      for (const [i, input] of INPUTS.entries()) {
        const ctx = lookupCtx(input);
        const what = `input ${i} ${JSON.stringify(input, (_, x) => (typeof x === "bigint" ? String(x) : x))}`;
        let k: ReturnType<ReturnType<LoadedObject["program"]>["testRun"]>;
        try {
          k = live.program("lookup").testRun({ ctx });
        } catch (e) {
          expect(
            () => sim.program("lookup").run({ ctx }),
            `${what}: kernel said ${(e as Error).message}`,
          ).toThrow(UsageError);
          refused++;
          continue;
        }
        const s = sim.program("lookup").run({ ctx });
        expect(s.retval, what).toBe(k.retval);
        expect(Buffer.from(s.ctxOut ?? []).toString("hex"), `${what} ctx out`).toBe(
          Buffer.from(k.ctx).toString("hex"),
        );
        expect([...sim.map("seen").entries()], `${what} seen`).toEqual([...live.map("seen").entries()]);
        compared++;
      }
      expect(compared).toBe(6);
      expect(refused).toBe(4);
      // no context at all: the kernel refuses it (EINVAL), so does the simulator
      expect(() => live.program("lookup").testRun({})).toThrow();
      expect(() => sim.program("lookup").run({})).toThrow(UsageError);
      live.close();
    });
  }
});

describe("sock_ops context (no kernel test run: the fields given are the oracle)", () => {
  for (const engine of ["interp", "jit"] as VmEngine[]) {
    it(`reads the fields given, writes reply and sk_txhash (${engine})`, async () => {
      const sim = simulate(await openObject(FIXTURE), { engine });
      const fields = {
        op: 1, // BPF_SOCK_OPS_TIMEOUT_INIT
        family: 2,
        remote_ip4: 0x0100000a,
        local_port: 8080,
        remote_port: 0x5000,
        snd_cwnd: 10,
        srtt_us: 8000,
        bytes_received: 0x1_0000_0001n,
        state: 1,
        is_fullsock: 1,
        args: [7, 8, 9, 10],
        bytes_acked: 77n,
        skb_tcp_flags: 0x1812,
      };
      const r = sim.program("tcp_ops").run({ ctx: fields });
      expect(r.retval).toBe(1);
      const seen = sim.map("seen");
      const expected: [number, bigint][] = [
        [0, 1n],
        [1, 2n],
        [2, 0x0100000an],
        [3, 8080n],
        [4, 0x5000n],
        [5, 10n],
        [6, 8000n],
        [7, 0x1_0000_0001n],
        [8, 1n],
        [9, 1n],
        [10, 8n],
        [11, 0n],
        [12, 77n],
        [13, 0x12n],
      ];
      for (const [k, v] of expected) expect(seen.get(k), `seen[${k}]`).toBe(v);
      const out = new DataView((r.ctxOut ?? new Uint8Array(224)).buffer);
      expect(r.ctxOut?.length).toBe(224);
      expect(out.getUint32(4, true)).toBe(8000 / 8); // reply
      expect(out.getUint32(164, true)).toBe(8080 * 31); // sk_txhash
      // another op: reply -1
      const r2 = sim.program("tcp_ops").run({ ctx: { op: 4, local_port: 1 } });
      expect(new DataView((r2.ctxOut as Uint8Array).buffer).getInt32(4, true)).toBe(-1);
      // bpf_sock_ops_cb_flags_set(args[1]): a full socket takes the supported flags, returns the others
      const r4 = sim.program("tcp_ops").run({ ctx: { op: 4, is_fullsock: 1, args: [0, 0x185] } });
      expect([seen.get(15), seen.get(16)]).toEqual([0x180n, 0x05n]);
      expect(new DataView((r4.ctxOut as Uint8Array).buffer).getUint32(84, true)).toBe(0x05);
      sim.program("tcp_ops").run({ ctx: { op: 4, is_fullsock: 0, args: [0, 1] } });
      expect([seen.get(15), seen.get(16)]).toEqual([BigInt.asUintN(64, -22n), 0n]);
      // replylong aliases the args union
      const r3 = sim.program("tcp_ops").run({ ctx: { op: 2, replylong: [0, 5, 0, 0] } });
      expect(r3.retval).toBe(1);
      expect(seen.get(10)).toBe(5n);
    });
  }

  it("refuses a packet and unknown fields", async () => {
    const sim = simulate(await openObject(FIXTURE));
    expect(() => sim.program("tcp_ops").run({ packet: new Uint8Array(64) })).toThrow(UsageError);
    expect(() => sim.program("tcp_ops").run({ ctx: { nope: 1 } })).toThrow(/no field 'nope'/);
  });
});
