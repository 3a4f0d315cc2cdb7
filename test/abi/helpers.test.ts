import { describe, expect, it } from "vitest";
import { MEASURED_HELPER_AVAILABILITY_BY_ATTACH } from "../../src/abi/helper-availability.js";
import {
  ACQUIRE_HELPERS,
  HELPER_CALL_MESSAGES,
  HELPER_MAP_TYPES,
  HELPERS,
  type Helper,
  type HelperProto,
  helperById,
  helperByName,
  isHelperAvailable,
  MAP_TYPE_HELPERS,
  mapHelperCompatible,
  measuredProgramTypes,
  PACKET_CHANGING_HELPERS,
  protosForProgType,
} from "../../src/abi/helpers.js";
import { KERNEL_HELPER_IDS } from "../../src/abi/kernel-enums.js";
import { mapTypeByName } from "../../src/abi/map-types.js";
import { attachTypeByName, progTypeByName } from "../../src/abi/program-types.js";
import { encodeInsns, kernel, kernelSkipReason } from "./kernel-probe.js";
import { vmlinux, vmlinuxSkipReason } from "./vmlinux-btf.js";

describe("helper table", () => {
  it("looks helpers up by id and every spelling of the name", () => {
    const h = helperByName("bpf_map_lookup_elem")!;
    expect(h.id).toBe(1);
    expect(helperByName("map_lookup_elem")).toBe(h);
    expect(helperByName("BPF_FUNC_map_lookup_elem")).toBe(h);
    expect(helperById(1)).toBe(h);
    expect(helperById(100000)).toBeUndefined();
  });

  it("has a prototype for every helper but unspec", () => {
    const without = HELPERS.filter((h) => !h.proto).map((h) => h.name);
    expect(without).toEqual(["bpf_unspec"]);
    expect(HELPERS.length).toBe(KERNEL_HELPER_IDS.length);
  });

  it("takes the kernel's composite type names apart", () => {
    const read = helperByName("bpf_probe_read_kernel")!.proto!;
    expect(read.args[0]).toMatchObject({ base: "ARG_PTR_TO_MEM", flags: ["MEM_UNINIT", "MEM_WRITE"] });
    expect(read.args[1]!.base).toBe("ARG_CONST_SIZE_OR_ZERO");
    const reserve = helperByName("bpf_ringbuf_reserve")!.proto!;
    expect(reserve.ret).toMatchObject({ base: "RET_PTR_TO_MEM", flags: ["PTR_MAYBE_NULL", "MEM_RINGBUF"] });
    const lookup = helperByName("bpf_map_lookup_elem")!.proto!;
    expect(lookup.ret.kernel).toEqual(["RET_PTR_TO_MAP_VALUE_OR_NULL"]);
    expect(lookup.args.map((a) => a.base)).toEqual(["ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY"]);
  });

  it("keeps per-program-type variants", () => {
    const stackid = helperByName("bpf_get_stackid")!;
    expect(protosForProgType(stackid, "tracepoint")?.map((p) => p.symbol)).toEqual([
      "bpf_get_stackid_proto_tp",
    ]);
    expect(protosForProgType(stackid, "perf_event")?.map((p) => p.symbol)).toEqual([
      "bpf_get_stackid_proto_pe",
    ]);
    expect(protosForProgType(helperByName("bpf_skb_store_bytes")!, "xdp")).toBeUndefined();
  });

  it("the short lists only name real helpers", () => {
    const lists = [ACQUIRE_HELPERS, PACKET_CHANGING_HELPERS, Object.keys(HELPER_MAP_TYPES)];
    for (const list of lists) for (const n of list) expect(helperByName(n), n).toBeDefined();
    for (const [m, hs] of Object.entries(MAP_TYPE_HELPERS)) {
      expect(mapTypeByName(m), m).toBeDefined();
      for (const n of hs) expect(helperByName(n), n).toBeDefined();
    }
  });

  it("packet-changing helpers take the context as first argument (the kernel insists)", () => {
    for (const n of PACKET_CHANGING_HELPERS) {
      for (const v of helperByName(n)!.variants)
        expect(v.proto.args[0]?.base, `${n} ${v.proto.symbol}`).toBe("ARG_PTR_TO_CTX");
    }
  });

  it("map/helper compatibility in both directions", () => {
    expect(mapHelperCompatible("prog_array", "bpf_tail_call")).toBe(true);
    expect(mapHelperCompatible("prog_array", "bpf_map_lookup_elem")).toBe(false);
    expect(mapHelperCompatible("hash", "bpf_tail_call")).toBe(false);
    expect(mapHelperCompatible("hash", "bpf_map_lookup_elem")).toBe(true);
    expect(mapHelperCompatible("ringbuf", "bpf_ringbuf_output")).toBe(true);
  });
});

describe.skipIf(!vmlinux)(`helper ids against vmlinux BTF ${vmlinuxSkipReason}`, () => {
  it("every enum bpf_func_id value is in the table with the same id", () => {
    const values = vmlinux!.enumValues("bpf_func_id")!;
    const real = [...values].filter(([n]) => !n.startsWith("__"));
    expect(real.length).toBe(HELPERS.length);
    for (const [n, v] of real) expect(helperByName(n)?.id, n).toBe(v);
  });

  it("BTF-typed arguments and results name types this kernel has", () => {
    let n = 0;
    for (const h of HELPERS)
      for (const v of h.variants) {
        const types = [...v.proto.args.map((a) => a.btfType), v.proto.retBtfType].filter(
          (t): t is string => t !== undefined,
        );
        for (const t of types) {
          const [kind, name] = t.split(" ");
          expect(
            vmlinux!.typeId(name!, kind === "struct" ? "STRUCT" : "FUNC"),
            `${h.name}: ${t}`,
          ).toBeDefined();
          n++;
        }
      }
    expect(n).toBeGreaterThan(20);
    expect(helperByName("bpf_skc_to_tcp_sock")!.proto!.retBtfType).toBe("struct tcp_sock");
    expect(helperByName("bpf_task_storage_get")!.proto!.args[1]!.btfType).toBe("struct task_struct");
  });

  it("MEM_FIXED_SIZE argument sizes match the kernel structs", () => {
    const sizes = new Set<number>();
    for (const h of HELPERS)
      for (const v of h.variants) for (const a of v.proto.args) if (a.size) sizes.add(a.size);
    // sizeof(u32), sizeof(u64)/s64, struct iphdr and tcphdr, struct ipv6hdr
    const fromBtf = new Set([
      4,
      8,
      vmlinux!.structSize("iphdr"),
      vmlinux!.structSize("tcphdr"),
      vmlinux!.structSize("ipv6hdr"),
    ]);
    for (const n of sizes) expect(fromBtf.has(n), String(n)).toBe(true);
  });
});

describe("static availability (sources) against measured availability (kernel)", () => {
  /**
   * Cases where the source chain names a prototype but the kernel answered NULL at load time, each
   * for a reason the static walk does not evaluate.
   */
  const runtimeConditions: Array<[RegExp, string]> = [
    [/:bpf_probe_write_user$/, "security_locked_down(LOCKDOWN_BPF_WRITE_USER) at load"],
    [/^kprobe:bpf_override_return$/, "CONFIG_BPF_KPROBE_OVERRIDE is not set"],
    [/:bpf_[gs]et_retval$/, "NULL for the measured attach type (cgroup_common_func_proto's nested switch)"],
    [/^cgroup_sockopt:bpf_[gs]etsockopt$/, "setsockopt hooks only (see the cgroup_setsockopt measurement)"],
    [/^(tracing|syscall):bpf_seq_/, "iterator programs only (BPF_TRACE_ITER)"],
    [/^(tracing|syscall):bpf_get_func_/, "fentry/fexit/fmod_ret only"],
    [/^syscall:bpf_get_attach_cookie$/, "tracing attach types only"],
  ];

  it("every helper the kernel allowed is found by the source chain", () => {
    for (const pt of measuredProgramTypes())
      for (const h of HELPERS) {
        if (h.id === 0 || !isHelperAvailable(h, pt)) continue;
        expect(protosForProgType(h, pt), `${pt}:${h.name}`).toBeDefined();
      }
  });

  it("every helper the chain names but the kernel refused has a known run-time reason", () => {
    const unexplained: string[] = [];
    let refused = 0;
    for (const pt of measuredProgramTypes())
      for (const h of HELPERS) {
        if (h.id === 0 || isHelperAvailable(h, pt) || !protosForProgType(h, pt)) continue;
        refused++;
        const key = `${pt}:${h.name}`;
        if (!runtimeConditions.some(([re]) => re.test(key))) unexplained.push(key);
      }
    expect(unexplained).toEqual([]);
    expect(refused).toBeLessThan(40);
  });
});

describe("availability per attach type", () => {
  it("uses the attach-type measurement where there is one", () => {
    const set = helperByName("bpf_setsockopt")!;
    expect(isHelperAvailable(set, "cgroup_sockopt")).toBe(false);
    expect(isHelperAvailable(set, "cgroup_sockopt", "cgroup_setsockopt")).toBe(true);
    const bind = helperByName("bpf_bind")!;
    expect(isHelperAvailable(bind, "cgroup_sock_addr", "cgroup_inet4_connect")).toBe(true);
    expect(isHelperAvailable(bind, "cgroup_sock_addr", "cgroup_inet4_bind")).toBe(false);
    expect(isHelperAvailable(bind, "lsm")).toBeUndefined();
  });

  it.skipIf(!kernel)(
    `agrees with a fresh load for every helper whose answer depends on the attach type ${kernelSkipReason}`,
    () => {
      let checked = 0;
      for (const key of Object.keys(MEASURED_HELPER_AVAILABILITY_BY_ATTACH)) {
        const [pt, attach] = key.split(":") as [string, string];
        for (const h of HELPERS) {
          if (h.id === 0) continue;
          const v = isHelperAvailable(h, pt, attach);
          if (v === isHelperAvailable(h, pt) && h.id % 25 !== 0) continue; // differing ones, and a sample
          const r = kernel!.progLoad(
            progTypeByName(pt)!.id,
            encodeInsns([
              [0x85, 0, 0, h.id],
              [0xb7, 0, 0, 1],
              [0x95, 0, 0, 0],
            ]),
            {
              expectedAttachType: attachTypeByName(attach)!.id,
            },
          );
          expect(!r.log.includes(HELPER_CALL_MESSAGES.unavailable(h)), `${key} ${h.name}`).toBe(v);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(50);
    },
  );
});

/**
 * The kernel checks a helper call in a fixed order (verifier.c check_helper_call): availability,
 * then GPL (gpl_only), then the `allowed` predicate, then might_sleep, then the arguments in order.
 * Loading `call <id>` with chosen licenses and register contents therefore reveals each flag and
 * the arity and the first argument's pointer-ness of the prototype the kernel used.
 */
describe.skipIf(!kernel)(`prototypes against the verifier ${kernelSkipReason}`, () => {
  // Program types that load with attach type 0 and no attach target.
  const simple = measuredProgramTypes().filter(
    (p) =>
      !["tracing", "syscall", "cgroup_sock_addr", "cgroup_sockopt", "sk_lookup", "netfilter"].includes(p),
  );
  const pick = (h: Helper): { pt: string; proto: HelperProto } | undefined => {
    for (const pt of simple) {
      if (!isHelperAvailable(h, pt)) continue;
      const protos = protosForProgType(h, pt);
      if (protos?.length === 1) return { pt, proto: protos[0]! };
    }
    return undefined;
  };
  const load = (
    pt: string,
    setup: (readonly [number, number, number, number])[],
    id: number,
    license = "GPL",
  ) =>
    kernel!.progLoad(
      progTypeByName(pt)!.id,
      encodeInsns([...setup, [0x85, 0, 0, id], [0xb7, 0, 0, 0], [0x95, 0, 0, 0]]),
      { license },
    ).log;

  const checked = HELPERS.filter((h) => h.id !== 0 && pick(h));

  it("an unknown helper id", () => {
    const r = kernel!.progLoad(
      1,
      encodeInsns([
        [0x85, 0, 0, 5000],
        [0xb7, 0, 0, 0],
        [0x95, 0, 0, 0],
      ]),
    );
    expect(r.log).toContain(HELPER_CALL_MESSAGES.invalid(5000));
  });

  it("covers most helpers", () => {
    expect(checked.length).toBeGreaterThan(150);
  });

  it("gpl_only", () => {
    for (const h of checked) {
      const { pt, proto } = pick(h)!;
      const log = load(pt, [], h.id, "Proprietary");
      expect(log.includes(HELPER_CALL_MESSAGES.gplOnly()), `${h.name} in ${pt}`).toBe(proto.gplOnly);
    }
  });

  it("might_sleep, then the arity", () => {
    const ktime = helperByName("bpf_ktime_get_ns")!;
    for (const h of checked) {
      const { pt, proto } = pick(h)!;
      if (proto.allowed) continue;
      // A first helper call leaves R1-R5 uninitialised, so the next call's first argument read fails.
      const clobber: (readonly [number, number, number, number])[] = isHelperAvailable(ktime, pt)
        ? [[0x85, 0, 0, ktime.id]]
        : [];
      const log = load(pt, clobber, h.id);
      expect(log.includes("might sleep in a non-sleepable prog"), `${h.name} in ${pt}`).toBe(
        proto.mightSleep,
      );
      if (proto.mightSleep || clobber.length === 0) continue;
      expect(log.includes("R1 !read_ok"), `${h.name} in ${pt}: ${proto.args.length} args`).toBe(
        proto.args.length > 0,
      );
    }
  });

  it("arity, where the leading arguments accept zero", () => {
    // With R1..R(k-1) = 0 and R(k) never written, the kernel reads R(k) iff the helper has k arguments
    // (and the zeros passed the earlier argument checks).
    let exact = 0;
    for (const h of checked) {
      const { pt, proto } = pick(h)!;
      if (proto.allowed || proto.mightSleep) continue;
      for (let k = 1; k <= 5; k++) {
        const zeros: [number, number, number, number][] = [];
        for (let r = 1; r < k; r++) zeros.push([0xb7, r, 0, 0]);
        // k = 1: clobber R1 (the context) with a first helper call's result registers instead
        const ktime = helperByName("bpf_ktime_get_ns")!;
        if (k === 1 && !isHelperAvailable(ktime, pt)) continue;
        const r = kernel!.progLoad(
          progTypeByName(pt)!.id,
          encodeInsns([
            ...(k === 1 ? [[0x85, 0, 0, ktime.id] as [number, number, number, number]] : zeros),
            [0x85, 0, 0, h.id],
            [0xb7, 0, 0, 0],
            [0x95, 0, 0, 0],
          ]),
        );
        if (r.log.includes(`R${k} !read_ok`)) {
          expect(proto.args.length, `${h.name} reads R${k}`).toBeGreaterThanOrEqual(k);
          continue;
        }
        if (r.errno === 0) {
          expect(proto.args.length, `${h.name} accepted without R${k}`).toBe(k - 1);
          exact++;
        }
        break; // refused for another reason: the zeros did not suit an earlier argument
      }
    }
    expect(exact).toBeGreaterThan(20);
  });

  it("pkt_access: packet pointers in every argument register", () => {
    // The kernel asks pkt_access before anything else about a non-ARG_ANYTHING argument that holds a
    // packet pointer ("helper access to the packet is not allowed").
    const packetTypes: [string, number, number][] = [
      ["sched_cls", 76, 80],
      ["xdp", 0, 4],
      ["cgroup_skb", 76, 80],
      ["sk_skb", 76, 80],
      ["lwt_xmit", 76, 80],
      ["lwt_in", 76, 80],
      ["flow_dissector", 76, 80],
    ];
    let checked = 0;
    const seen = new Set<boolean>();
    for (const h of HELPERS) {
      if (h.id === 0) continue;
      for (const [pt, data, end] of packetTypes) {
        if (!isHelperAvailable(h, pt)) continue;
        const protos = protosForProgType(h, pt);
        if (protos?.length !== 1) break;
        const proto = protos[0]!;
        if (proto.mightSleep || proto.allowed || proto.args.every((a) => a.base === "ARG_ANYTHING")) break;
        const log = load(
          pt,
          [
            [0x61, 2 | (1 << 4), data, 0], // r2 = data
            [0x61, 3 | (1 << 4), end, 0], // r3 = data_end
            [0xbf, 4 | (2 << 4), 0, 0], // r4 = r2
            [0x07, 4, 0, 64], // r4 += 64
            [0x2d, 4 | (3 << 4), 6, 0], // if r4 > r3 goto exit (past the call)
            [0xbf, 1 | (2 << 4), 0, 0], // r1 = r2
            [0xbf, 3 | (2 << 4), 0, 0], // r3 = r2
            [0xbf, 4 | (2 << 4), 0, 0], // r4 = r2
            [0xbf, 5 | (2 << 4), 0, 0], // r5 = r2
            [0xb7, 0, 0, 0], // r0 = 0 (the jump above lands on the r0 = 0 after the call)
          ],
          h.id,
        );
        expect(log.includes(HELPER_CALL_MESSAGES.packetAccess()), `${h.name} in ${pt}`).toBe(
          !proto.pktAccess,
        );
        seen.add(proto.pktAccess);
        checked++;
        break;
      }
    }
    expect(checked).toBeGreaterThan(80);
    expect([...seen].sort()).toEqual([false, true]);
  });

  it("whether the first argument accepts a NULL scalar", () => {
    const scalarOk = new Set([
      "ARG_ANYTHING",
      "ARG_CONST_SIZE",
      "ARG_CONST_SIZE_OR_ZERO",
      "ARG_CONST_ALLOC_SIZE_OR_ZERO",
    ]);
    const expectedName: Record<string, string> = { ARG_CONST_MAP_PTR: "map_ptr", ARG_PTR_TO_CTX: "ctx" };
    for (const h of checked) {
      const { pt, proto } = pick(h)!;
      if (proto.allowed || proto.mightSleep || proto.args.length === 0) continue;
      const log = load(pt, [[0xb7, 1, 0, 0]], h.id); // r1 = 0
      const a = proto.args[0]!;
      const accepts = scalarOk.has(a.base) || a.flags.includes("PTR_MAYBE_NULL");
      const m = /R1 type=scalar expected=([^\n]*)/.exec(log);
      expect(m === null, `${h.name} in ${pt}: arg1 ${a.kernel.join("|")}; log: ${log.slice(-200)}`).toBe(
        accepts,
      );
      if (m && expectedName[a.base]) expect(m[1]).toBe(expectedName[a.base]);
      // With R1 accepted, R2 (never written) is read next iff there is a second argument.
      if (!m)
        expect(log.includes("R2 !read_ok"), `${h.name}: ${proto.args.length} args`).toBe(
          proto.args.length > 1,
        );
    }
  });
});
