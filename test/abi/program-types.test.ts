import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ATTACH_TYPES,
  attachTypeById,
  attachTypeByName,
  closestKnownSection,
  editDistance,
  PROGRAM_TYPES,
  programTypeForSection,
  progTypeById,
  progTypeByName,
  SECTION_DEFS,
  unknownSectionMessage,
} from "../../src/abi/program-types.js";

interface SectionGolden {
  libbpf: string;
  names: Record<
    string,
    { progType: string; progTypeId: number; attachType: string; attachTypeId: number } | null
  >;
  loaded: Record<string, { loaded: boolean; type?: string }>;
}
const golden = JSON.parse(
  readFileSync(new URL("../fixtures/golden/libbpf-sections.json", import.meta.url), "utf8"),
) as SectionGolden;

/**
 * Names libbpf 1.1 (the captured library) does not know but current libbpf does, found by this
 * test and dated with `git log -S` on libbpf/libbpf src/libbpf.c: struct_ops.s (1.2), tcx/* and
 * tc/* as tcx aliases, netfilter, uprobe.multi (1.3), sk_skb/verdict (1.4), tp.s/tracepoint.s
 * (after 1.5). They are checked against the table itself below.
 */
const NEWER_THAN_LIBBPF_1_1 = new Set([
  "tc/ingress",
  "tcx/ingress",
  "tcx/egress",
  "netfilter",
  "uprobe.multi//bin/bash:read*",
  "uretprobe.multi//bin/bash:read*",
  "tp.s/syscalls/sys_enter_openat",
  "tracepoint.s/syscalls/sys_enter_openat",
  "sk_skb/verdict",
  "struct_ops.s/foo",
]);

describe("program and attach types", () => {
  it("has the ids bpftool names map to", () => {
    expect(progTypeByName("sched_cls")?.id).toBe(3);
    expect(progTypeByName("BPF_PROG_TYPE_XDP")?.name).toBe("xdp");
    expect(progTypeById(32)?.name).toBe("netfilter");
    expect(attachTypeByName("tcx_ingress")?.kernelName).toBe("BPF_TCX_INGRESS");
    expect(attachTypeById(0)?.name).toBe("cgroup_inet_ingress");
  });

  it("ids are unique and dense from 0", () => {
    for (const list of [PROGRAM_TYPES, ATTACH_TYPES]) {
      expect(list.map((e) => e.id)).toEqual(list.map((_, i) => i));
    }
  });

  it("names agree with libbpf's strings for every type libbpf 1.1 reported", () => {
    for (const r of Object.values(golden.names)) {
      if (!r) continue;
      expect(progTypeById(r.progTypeId)?.name).toBe(r.progType);
      expect(attachTypeById(r.attachTypeId)?.name).toBe(r.attachType);
    }
  });
});

describe("programTypeForSection against libbpf 1.1.2 (golden)", () => {
  for (const [name, want] of Object.entries(golden.names)) {
    if (NEWER_THAN_LIBBPF_1_1.has(name)) continue;
    it(name, () => {
      const got = programTypeForSection(name);
      if (want === null) {
        expect(got).toBeUndefined();
        return;
      }
      expect(got?.progType.id).toBe(want.progTypeId);
      expect(got?.expectedAttachType?.id ?? 0).toBe(want.attachTypeId);
    });
  }

  it("agrees with the type bpftool shows after loading", () => {
    let checked = 0;
    for (const [name, r] of Object.entries(golden.loaded)) {
      if (!r.loaded) continue;
      expect(programTypeForSection(name)?.progType.name, name).toBe(r.type);
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
  });
});

describe("sections newer than libbpf 1.1 (checked against the table itself)", () => {
  // libbpf >= 1.3: tc/ingress and tc/egress are aliases of tcx/ingress and tcx/egress.
  it("tc/ingress and tcx/* are sched_cls with tcx attach types", () => {
    expect(programTypeForSection("tc/ingress")?.expectedAttachType?.name).toBe("tcx_ingress");
    expect(programTypeForSection("tc/egress")?.expectedAttachType?.name).toBe("tcx_egress");
    expect(programTypeForSection("tcx/egress")?.progType.name).toBe("sched_cls");
  });
  it("uprobe.multi, kprobe.session, netkit, netfilter", () => {
    const um = programTypeForSection("uprobe.multi//usr/bin/bash:readline");
    expect(um?.progType.name).toBe("kprobe");
    expect(um?.expectedAttachType?.kernelName).toBe("BPF_TRACE_UPROBE_MULTI");
    expect(um?.attachTarget).toBe("/usr/bin/bash:readline");
    expect(programTypeForSection("uprobe.multi.s//x:y")?.flags.sleepable).toBe(true);
    expect(programTypeForSection("kprobe.session/f")?.expectedAttachType?.kernelName).toBe(
      "BPF_TRACE_KPROBE_SESSION",
    );
    expect(programTypeForSection("netkit/peer")?.expectedAttachType?.name).toBe("netkit_peer");
    expect(programTypeForSection("netfilter")?.progType.name).toBe("netfilter");
  });
  it("tp.s, sk_skb/verdict, struct_ops.s", () => {
    expect(programTypeForSection("tp.s/syscalls/sys_enter_openat")).toMatchObject({
      progType: { name: "tracepoint" },
      flags: { sleepable: true },
      attachTarget: "syscalls/sys_enter_openat",
    });
    expect(programTypeForSection("sk_skb/verdict")?.expectedAttachType?.name).toBe("sk_skb_verdict");
    expect(programTypeForSection("struct_ops.s/foo")?.flags.sleepable).toBe(true);
  });
  it("every row names a type this kernel has", () => {
    for (const d of SECTION_DEFS) expect(progTypeByName(d.progType), d.pattern).toBeDefined();
  });
});

describe("section details", () => {
  it("splits the attach target off", () => {
    expect(programTypeForSection("tracepoint/syscalls/sys_enter_execve")?.attachTarget).toBe(
      "syscalls/sys_enter_execve",
    );
    expect(programTypeForSection("tracepoint")?.attachTarget).toBeUndefined();
    expect(programTypeForSection("kprobe/do_unlinkat+4")?.attachTarget).toBe("do_unlinkat+4");
  });
  it("a leading ? turns autoload off and is otherwise ignored", () => {
    const s = programTypeForSection("?xdp.frags");
    expect(s?.autoload).toBe(false);
    expect(s?.flags.xdpFrags).toBe(true);
    expect(programTypeForSection("xdp")?.autoload).toBe(true);
  });
  it("flags", () => {
    expect(programTypeForSection("fentry.s/do_unlinkat")?.flags).toMatchObject({
      attachBtf: true,
      sleepable: true,
    });
    expect(programTypeForSection("syscall")?.flags.sleepable).toBe(true);
    expect(programTypeForSection("usdt/libc:setjmp")?.flags.usdt).toBe(true);
    expect(programTypeForSection("xdp")?.flags.attachTypeOptional).toBe(true);
  });
  it("'x+' needs a slash after the prefix", () => {
    expect(programTypeForSection("kprobeX")).toBeUndefined();
    expect(programTypeForSection("tpx/a")).toBeUndefined();
  });
});

describe("unknown sections", () => {
  it("suggests the closest spelling", () => {
    expect(unknownSectionMessage("tracepont/syscalls/sys_enter_execve")).toBe(
      "unknown section 'tracepont/syscalls/sys_enter_execve': did you mean 'tracepoint/'?",
    );
    expect(closestKnownSection("xpd")).toBe("xdp");
    expect(closestKnownSection("cgroup/conect4")).toBe("cgroup/connect4");
    expect(closestKnownSection("kprobe.mult/f")).toBe("kprobe.multi/");
    expect(closestKnownSection("completely_else")).toBeUndefined();
    expect(unknownSectionMessage("foo")).toBe("unknown section 'foo'");
    // current libbpf knows these, the 6.18 kernel has no attach type for them
    expect(programTypeForSection("fentry.multi/do_*")).toBeUndefined();
    expect(unknownSectionMessage("fentry.multi/do_*")).toBe(
      "section 'fentry.multi/do_*' needs attach type trace_fentry_multi, which this kernel (6.18) does not have",
    );
    expect(attachTypeByName("trace_fentry_multi")).toBeUndefined();
  });
  it("edit distance is a metric on small samples (symmetric, zero iff equal)", () => {
    const words = ["xdp", "xpd", "tc", "tracepoint", "tracepont", "", "kprobe"];
    for (const a of words)
      for (const b of words) {
        expect(editDistance(a, b)).toBe(editDistance(b, a));
        expect(editDistance(a, b) === 0).toBe(a === b);
      }
    expect(editDistance("kitten", "sitting")).toBe(3);
  });
});
