import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CTX_MODELLED_PROG_TYPES,
  type CtxAccessOptions,
  checkCtxAccess,
  checkSockAccess,
  ctxAccessError,
  describeContext,
} from "../../src/abi/context-access.js";
import {
  BPF_CGROUP_DEV_CTX,
  BPF_PERF_EVENT_DATA,
  BPF_SK_LOOKUP,
  BPF_SOCK,
  BPF_SOCK_ADDR,
  BPF_SOCK_OPS,
  BPF_SOCKOPT,
  BPF_SYSCTL,
  type CtxLayout,
  contextLayoutFor,
  fieldAt,
  fieldByName,
  PT_REGS,
  SK_BUFF,
  SK_MSG_MD,
  SK_REUSEPORT_MD,
  SOCK_OPS_UNION_ALIASES,
  TRACE_EVENT_RAW_SYS_ENTER,
  XDP_MD,
} from "../../src/abi/contexts.js";
import { attachTypeByName, progTypeByName } from "../../src/abi/program-types.js";
import { parseTracepointFormat } from "../../src/abi/tracepoint-format.js";
import { encodeInsns, kernel, kernelSkipReason } from "./kernel-probe.js";
import { vmlinux, vmlinuxSkipReason } from "./vmlinux-btf.js";

describe("context layouts", () => {
  it("fields are sorted, inside the struct and do not overlap", () => {
    for (const l of [
      SK_BUFF,
      XDP_MD,
      BPF_SOCK,
      PT_REGS,
      BPF_PERF_EVENT_DATA,
      TRACE_EVENT_RAW_SYS_ENTER,
      BPF_SOCK_ADDR,
      BPF_SOCK_OPS,
      SK_MSG_MD,
      BPF_SK_LOOKUP,
      SK_REUSEPORT_MD,
      BPF_SYSCTL,
      BPF_SOCKOPT,
      BPF_CGROUP_DEV_CTX,
    ]) {
      let end = 0;
      for (const f of l.fields) {
        expect(f.offset, `${l.struct}.${f.name}`).toBeGreaterThanOrEqual(end);
        end = f.offset + f.size;
      }
      expect(end).toBeLessThanOrEqual(l.size);
    }
  });
  it("finds fields by offset and by either name", () => {
    expect(fieldAt(SK_BUFF, 50)?.name).toBe("cb");
    expect(fieldAt(SK_BUFF, 182)).toBeUndefined();
    expect(fieldByName(PT_REGS, "di")?.name).toBe("rdi");
    expect(fieldByName(PT_REGS, "rdi")?.offset).toBe(112);
    expect(contextLayoutFor("sched_cls")).toBe(SK_BUFF);
    expect(contextLayoutFor("sk_msg")).toBe(SK_MSG_MD);
    expect(contextLayoutFor("lsm")).toBeUndefined();
  });
  it("summarises a context per field", () => {
    const tc = describeContext("sched_cls")!;
    expect(tc.find((r) => r.field.name === "data")).toMatchObject({ read: [4], write: [], pointer: "pkt" });
    expect(tc.find((r) => r.field.name === "mark")).toMatchObject({ read: [1, 2, 4], write: [4] });
    expect(tc.find((r) => r.field.name === "cb")).toMatchObject({ read: [1, 2, 4, 8], write: [1, 2, 4, 8] });
    expect(describeContext("socket_filter")!.find((r) => r.field.name === "mark")!.write).toEqual([]);
    expect(describeContext("tracepoint")).toBeUndefined();
  });
  it("answers the common questions", () => {
    expect(checkCtxAccess("sched_cls", 76, 4, false)).toMatchObject({ ok: true, pointer: "pkt" });
    expect(checkCtxAccess("sched_cls", 8, 4, true)).toMatchObject({ ok: true, field: { name: "mark" } });
    expect(checkCtxAccess("socket_filter", 8, 4, true)?.ok).toBe(false);
    expect(checkCtxAccess("xdp", 8, 4, false)).toMatchObject({ ok: true, pointer: "pkt_meta" });
    expect(checkCtxAccess("sched_cls", 168, 8, false)).toMatchObject({
      ok: true,
      pointer: "sock_common_or_null",
    });
    expect(checkSockAccess("sock_common", 8, 4).ok).toBe(false);
    expect(checkSockAccess("sock", 8, 4).ok).toBe(true);
    expect(ctxAccessError(12, 8)).toBe("invalid bpf_context access off=12 size=8");
  });
});

/** The uapi layouts against the kernel's own BTF (names, offsets, sizes). */
describe.skipIf(!vmlinux)(`layouts against vmlinux BTF ${vmlinuxSkipReason}`, () => {
  const compare = (l: CtxLayout, btfName: string, opts: { sizes?: boolean } = {}) => {
    const members = vmlinux!.members(btfName)!;
    expect(members, btfName).toBeDefined();
    for (const f of l.fields) {
      const m = members.find((x) => x.name === (f.kernelName ?? f.name));
      expect(m, `${btfName}.${f.name}`).toBeDefined();
      expect(m!.offset, `${btfName}.${f.name} offset`).toBe(f.offset);
      if (opts.sizes !== false) expect(m!.size, `${btfName}.${f.name} size`).toBe(f.size);
    }
  };
  it("__sk_buff", () => {
    compare(SK_BUFF, "__sk_buff");
    expect(vmlinux!.structSize("__sk_buff")).toBe(SK_BUFF.size);
    expect(vmlinux!.members("__sk_buff")!.length).toBe(SK_BUFF.fields.length);
  });
  it("xdp_md, bpf_sock, bpf_perf_event_data", () => {
    compare(XDP_MD, "xdp_md");
    compare(BPF_SOCK, "bpf_sock");
    compare(BPF_PERF_EVENT_DATA, "bpf_perf_event_data");
    for (const l of [XDP_MD, BPF_SOCK, BPF_PERF_EVENT_DATA])
      expect(vmlinux!.structSize(l.struct)).toBe(l.size);
  });
  it("the other socket and cgroup contexts", () => {
    const all = [
      BPF_SOCK_ADDR,
      BPF_SOCK_OPS,
      SK_MSG_MD,
      BPF_SK_LOOKUP,
      SK_REUSEPORT_MD,
      BPF_SYSCTL,
      BPF_SOCKOPT,
      BPF_CGROUP_DEV_CTX,
    ];
    for (const l of all) {
      compare(l, l.struct);
      expect(vmlinux!.structSize(l.struct), l.struct).toBe(l.size);
    }
    const ops = vmlinux!.members("bpf_sock_ops")!;
    for (const a of SOCK_OPS_UNION_ALIASES)
      expect(ops.find((m) => m.name === a.name)).toMatchObject({ offset: a.offset, size: a.size });
  });
  it("pt_regs (offsets; the kernel makes cs/ss unions with narrower first members)", () => {
    compare(PT_REGS, "pt_regs", { sizes: false });
    expect(vmlinux!.structSize("pt_regs")).toBe(PT_REGS.size);
  });
  it("trace_event_raw_sys_enter", () => {
    const members = vmlinux!.members("trace_event_raw_sys_enter")!;
    expect(members.find((m) => m.name === "id")).toMatchObject({ offset: 8, size: 8 });
    expect(members.find((m) => m.name === "args")).toMatchObject({ offset: 16, size: 48 });
    expect(vmlinux!.structSize("trace_event_raw_sys_enter")).toBe(TRACE_EVENT_RAW_SYS_ENTER.size);
    const header = vmlinux!.members("trace_entry")!;
    expect(header.map((m) => [m.offset, m.size])).toEqual(
      TRACE_EVENT_RAW_SYS_ENTER.fields.slice(0, 4).map((f) => [f.offset, f.size]),
    );
  });
});

const formatFile = "/sys/kernel/tracing/events/raw_syscalls/sys_enter/format";
describe.skipIf(!existsSync(formatFile))(`tracefs format of raw_syscalls/sys_enter (${formatFile})`, () => {
  it("parses to the same record layout", () => {
    const f = parseTracepointFormat(readFileSync(formatFile, "utf8"));
    expect(f.name).toBe("sys_enter");
    expect(Number.isInteger(f.id)).toBe(true);
    expect(f.fields.map((x) => [x.name, x.offset, x.size])).toEqual(
      TRACE_EVENT_RAW_SYS_ENTER.fields.map((x) => [x.name, x.offset, x.size]),
    );
    expect(f.fields.find((x) => x.name === "args")).toMatchObject({
      type: "unsigned long",
      count: 6,
      signed: false,
    });
  });
});

/**
 * The kernel is the oracle for the access rules: for each modelled program type (and attach type
 * variant), load `r0 = *(uN *)(r1 + off)` and `*(uN *)(r1 + off) = r2` for every offset of the
 * context (and a few outside) and every size, and compare accept/reject with checkCtxAccess.
 */
describe.skipIf(!kernel)(`context access rules against the verifier ${kernelSkipReason}`, () => {
  const SIZE_CODE: Record<number, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };
  const cases: { pt: string; attach?: string; span: number }[] = [
    ...CTX_MODELLED_PROG_TYPES.filter((p) => contextLayoutFor(p) === SK_BUFF).map((pt) => ({
      pt,
      span: 200,
    })),
    { pt: "xdp", span: 32 },
    { pt: "xdp", attach: "xdp_devmap", span: 32 },
    { pt: "cgroup_sock", attach: "cgroup_inet_sock_create", span: 88 },
    { pt: "cgroup_sock", attach: "cgroup_inet4_post_bind", span: 88 },
    { pt: "cgroup_sock", attach: "cgroup_inet6_post_bind", span: 88 },
    { pt: "kprobe", span: 176 },
    { pt: "perf_event", span: 192 },
    { pt: "raw_tracepoint", span: 104 },
    { pt: "raw_tracepoint_writable", span: 104 },
    { pt: "tracepoint", span: 64 },
    { pt: "cgroup_sock_addr", attach: "cgroup_inet4_connect", span: 80 },
    { pt: "cgroup_sock_addr", attach: "cgroup_inet6_connect", span: 80 },
    { pt: "cgroup_sock_addr", attach: "cgroup_udp4_sendmsg", span: 80 },
    { pt: "cgroup_sock_addr", attach: "cgroup_udp6_sendmsg", span: 80 },
    { pt: "cgroup_sock_addr", attach: "cgroup_unix_connect", span: 80 },
    { pt: "sock_ops", span: 232 },
    { pt: "sk_msg", span: 88 },
    { pt: "sk_lookup", attach: "sk_lookup", span: 80 },
    { pt: "sk_reuseport", span: 64 },
    { pt: "cgroup_sysctl", span: 16 },
    { pt: "cgroup_sockopt", attach: "cgroup_getsockopt", span: 48 },
    { pt: "cgroup_sockopt", attach: "cgroup_setsockopt", span: 48 },
    { pt: "cgroup_device", span: 16 },
  ];
  for (const c of cases) {
    it(`${c.pt}${c.attach ? ` (${c.attach})` : ""}`, () => {
      const progType = progTypeByName(c.pt)!.id;
      const expectedAttachType = c.attach ? attachTypeByName(c.attach)!.id : 0;
      const opts: CtxAccessOptions = c.attach ? { expectedAttachType: c.attach } : {};
      const mismatches: string[] = [];
      let accepted = 0;
      for (const write of [false, true])
        for (const size of [1, 2, 4, 8])
          for (let off = -8; off < c.span; off++) {
            if (off % size !== 0) continue; // misaligned: refused by both, not worth a load each
            const insn: [number, number, number, number] = write
              ? [0x63 | SIZE_CODE[size]!, 1 | (2 << 4), off, 0] // *(uN *)(r1 + off) = r2
              : [0x61 | SIZE_CODE[size]!, 0 | (1 << 4), off, 0]; // r0 = *(uN *)(r1 + off)
            // r0 = 1 suits every return range here (recvmsg-style hooks must return 1).
            const prog = encodeInsns([[0xb7, 2, 0, 0], insn, [0xb7, 0, 0, 1], [0x95, 0, 0, 0]]);
            const r = kernel!.progLoad(progType, prog, { expectedAttachType });
            const model = checkCtxAccess(c.pt, off, size, write, opts)!;
            if (r.errno === 0) accepted++;
            if ((r.errno === 0) !== model.ok) {
              const line =
                r.log.split("\n").find((l) => /invalid|disallowed|cannot|not allowed/.test(l)) ?? "";
              mismatches.push(
                `${write ? "store" : "load"} off=${off} size=${size}: kernel ${r.errno === 0 ? "ok" : `refused (${line})`}`,
              );
            }
          }
      expect(mismatches).toEqual([]);
      expect(accepted).toBeGreaterThan(0);
    });
  }
});
