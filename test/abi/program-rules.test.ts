import { describe, expect, it } from "vitest";
import { checkCtxAccess } from "../../src/abi/context-access.js";
import { fieldByName, SK_BUFF, XDP_MD } from "../../src/abi/contexts.js";
import {
  allowsLegacyPacketLoads,
  packetAccess,
  returnRangeError,
  returnRule,
} from "../../src/abi/program-rules.js";
import { attachTypeByName, progTypeByName } from "../../src/abi/program-types.js";
import { encodeInsns, kernel, kernelSkipReason } from "./kernel-probe.js";
import { vmlinux } from "./vmlinux-btf.js";

describe("program rules", () => {
  it("return ranges", () => {
    expect(returnRule("xdp")).toEqual({ kind: "any" });
    expect(returnRule("cgroup_skb", { expectedAttachType: "cgroup_inet_egress" })).toEqual({
      kind: "range",
      min: 0,
      max: 3,
    });
    expect(returnRule("cgroup_sock_addr", { expectedAttachType: "cgroup_udp4_recvmsg" })).toEqual({
      kind: "range",
      min: 1,
      max: 1,
    });
    expect(returnRule("tracing", { expectedAttachType: "trace_fentry" })).toEqual({
      kind: "range",
      min: 0,
      max: 0,
    });
    expect(returnRangeError(2, 0, 1)).toBe(
      "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]",
    );
  });
  it("packet access and legacy loads", () => {
    expect(packetAccess("xdp")).toBe("readwrite");
    expect(packetAccess("cgroup_skb")).toBe("read");
    expect(packetAccess("socket_filter")).toBe("none");
    expect(allowsLegacyPacketLoads("socket_filter")).toBe(true);
    expect(allowsLegacyPacketLoads("xdp")).toBe(false);
  });
});

describe.skipIf(!kernel)(`program rules against the verifier ${kernelSkipReason}`, () => {
  const load = (
    pt: string,
    insns: (readonly [number, number, number, number])[],
    attach?: string,
    attachBtfId?: number,
  ) =>
    kernel!.progLoad(progTypeByName(pt)!.id, encodeInsns(insns), {
      expectedAttachType: attach ? attachTypeByName(attach)!.id : 0,
      ...(attachBtfId !== undefined ? { attachBtfId } : {}),
    });

  const tpBtfId = vmlinux?.typeId("btf_trace_sched_switch", "TYPEDEF");
  const cases: { pt: string; attach?: string; btfId?: number }[] = [
    { pt: "socket_filter" },
    { pt: "sched_cls" },
    { pt: "xdp" },
    { pt: "kprobe" },
    { pt: "tracepoint" },
    { pt: "perf_event" },
    { pt: "raw_tracepoint" },
    { pt: "cgroup_skb", attach: "cgroup_inet_ingress" },
    { pt: "cgroup_skb", attach: "cgroup_inet_egress" },
    { pt: "cgroup_sock", attach: "cgroup_inet_sock_create" },
    { pt: "cgroup_sock_addr", attach: "cgroup_inet4_connect" },
    { pt: "cgroup_sock_addr", attach: "cgroup_udp4_recvmsg" },
    { pt: "cgroup_sock_addr", attach: "cgroup_inet6_getsockname" },
    { pt: "cgroup_sock_addr", attach: "cgroup_inet4_bind" },
    { pt: "sock_ops" },
    { pt: "cgroup_device" },
    { pt: "cgroup_sysctl" },
    { pt: "cgroup_sockopt", attach: "cgroup_getsockopt" },
    { pt: "sk_lookup", attach: "sk_lookup" },
    { pt: "netfilter", attach: "netfilter" },
    { pt: "flow_dissector" },
    { pt: "sk_skb" },
    { pt: "sk_msg" },
    { pt: "lwt_in" },
    ...(tpBtfId !== undefined ? [{ pt: "tracing", attach: "trace_raw_tp", btfId: tpBtfId }] : []),
  ];

  for (const c of cases) {
    it(`return values: ${c.pt}${c.attach ? ` (${c.attach})` : ""}`, () => {
      const rule = returnRule(c.pt, c.attach ? { expectedAttachType: c.attach } : {});
      for (const v of [-1, 0, 1, 2, 3, 4]) {
        const r = load(
          c.pt,
          [
            [0xb7, 0, 0, v],
            [0x95, 0, 0, 0],
          ],
          c.attach,
          c.btfId,
        );
        const allowed = rule.kind === "any" || (rule.kind === "range" && v >= rule.min && v <= rule.max);
        expect(r.errno === 0, `r0 = ${v}: ${r.log.split("\n").slice(-3).join(" | ")}`).toBe(allowed);
        if (!allowed && rule.kind === "range")
          expect(r.log).toContain(returnRangeError(v, rule.min, rule.max));
      }
    });
  }

  // Packet pointers from the context, a bounds check, then one load or store through them.
  const packetCases: { pt: string; layout: typeof SK_BUFF }[] = [
    { pt: "sched_cls", layout: SK_BUFF },
    { pt: "sched_act", layout: SK_BUFF },
    { pt: "xdp", layout: XDP_MD },
    { pt: "cgroup_skb", layout: SK_BUFF },
    { pt: "lwt_in", layout: SK_BUFF },
    { pt: "lwt_out", layout: SK_BUFF },
    { pt: "lwt_xmit", layout: SK_BUFF },
    { pt: "lwt_seg6local", layout: SK_BUFF },
    { pt: "sk_skb", layout: SK_BUFF },
    { pt: "flow_dissector", layout: SK_BUFF },
  ];
  for (const { pt, layout } of packetCases) {
    it(`packet access: ${pt}`, () => {
      const data = fieldByName(layout, "data")!.offset;
      const end = fieldByName(layout, "data_end")!.offset;
      expect(checkCtxAccess(pt, data, 4, false)).toMatchObject({ ok: true, pointer: "pkt" });
      const body = (access: [number, number, number, number]) =>
        load(pt, [
          [0x61, 2 | (1 << 4), data, 0], // r2 = *(u32 *)(r1 + data)
          [0x61, 3 | (1 << 4), end, 0], // r3 = *(u32 *)(r1 + data_end)
          [0xbf, 4 | (2 << 4), 0, 0], // r4 = r2
          [0x07, 4, 0, 1], // r4 += 1
          [0x2d, 4 | (3 << 4), 1, 0], // if r4 > r3 goto +1
          access,
          [0xb7, 0, 0, 0],
          [0x95, 0, 0, 0],
        ]);
      const read = body([0x71, 5 | (2 << 4), 0, 0]); // r5 = *(u8 *)(r2 + 0)
      const writeScalar = body([0x72, 2, 0, 7]); // *(u8 *)(r2 + 0) = 7
      const want = packetAccess(pt);
      expect(read.errno === 0, read.log.slice(-300)).toBe(want !== "none");
      expect(writeScalar.errno === 0, writeScalar.log.slice(-300)).toBe(want === "readwrite");
    });
  }

  it("legacy packet loads", () => {
    for (const pt of ["socket_filter", "sched_cls", "sched_act", "xdp", "cgroup_skb", "kprobe"]) {
      // r6 = r1; r0 = *(u8 *)skb[0]; exit
      const r = load(pt, [
        [0xbf, 6 | (1 << 4), 0, 0],
        [0x30, 0, 0, 0],
        [0x95, 0, 0, 0],
      ]);
      expect(r.errno === 0, `${pt}: ${r.log.slice(-200)}`).toBe(allowsLegacyPacketLoads(pt));
    }
  });
});
