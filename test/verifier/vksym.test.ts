import { describe, expect, it } from "vitest";
import type { VerifyResult } from "../../src/verifier/verify.js";
import { type CorpusGolden, readCorpus, verifyCorpusFixture } from "../fixtures/verifier-corpus/golden.js";

/**
 * Typed ksyms (ksym_), packet dynptrs (dynptr_skb_), global function argument tags (argtag_) and
 * resilient spin locks with IRQ flags (resspin_): the offline verifier against the kernel 6.18
 * goldens of the corpus, fixture by fixture, and log wordings of these areas taken from the
 * goldens' level-2 logs.
 */
const PREFIXES = ["ksym_", "dynptr_skb_", "argtag_", "resspin_"];
const goldens = new Map<string, CorpusGolden>(
  readCorpus()
    .filter((g) => PREFIXES.some((p) => g.name.startsWith(p)))
    .map((g) => [g.name, g]),
);

function ours(name: string, logLevel: 1 | 2 = 1): { g: CorpusGolden; r: VerifyResult } {
  const g = goldens.get(name);
  if (!g) throw new Error(`no golden for ${name}`);
  return { g, r: verifyCorpusFixture(g, logLevel) };
}

/**
 * Accepted fixtures whose processed count differs: programs calling kfuncs are explored without
 * precision tracking here (precision.ts), which prunes less than the kernel.
 */
const PROCESSED_DIFFERS = new Set([
  "dynptr_skb_parse_eth_ip",
  "dynptr_skb_cgroup_ports",
  "dynptr_skb_clone_adjust",
  "resspin_tc_token_bucket",
  "dynptr_skb_tp_btf_kfree",
]);

describe("ksym_, dynptr_skb_, argtag_, resspin_ fixtures: the kernel's verdict, message, instruction", () => {
  it("covers every area, accepted and rejected", () => {
    const all = [...goldens.values()];
    for (const p of PREFIXES) {
      expect(all.some((g) => g.name.startsWith(p) && g.expected === "accept")).toBe(true);
      expect(all.some((g) => g.name.startsWith(p) && g.expected === "reject")).toBe(true);
    }
  });
  for (const name of goldens.keys()) {
    it(name, () => {
      const { g, r } = ours(name);
      const k = g.programs[0]!;
      expect(r.verdict).toBe(k.verdict);
      if (k.error) {
        expect(r.error?.modelled).toBe(true);
        // errors before the first instruction (resolve_pseudo_ldimm64) have no instruction
        if (k.error.insn !== null) expect(r.error?.insn).toBe(k.error.insn);
        const block = k.error.block;
        const msg = r.error!.message;
        expect(msg === block || msg === k.error.message || block.endsWith(`\n${msg}`)).toBe(true);
      }
      if (!PROCESSED_DIFFERS.has(name)) expect(r.processedInsns).toBe(k.processedInsns);
    });
  }
});

describe("wordings of these areas, from the goldens' logs", () => {
  const expectBoth = (name: string, text: string): void => {
    const { g, r } = ours(name, 2);
    expect(g.programs[0]!.log2).toContain(text);
    expect(r.log).toContain(text);
  };
  it("a kfunc's address is read-only memory of size 0", () => {
    expectBoth("ksym_kfunc_exists", "R2=rdonly_mem(sz=0)");
  });
  it("slices of packet dynptrs are read-only maybe-NULL memory of the asked size", () => {
    expectBoth("dynptr_skb_cgroup_ports", "R0=rdonly_mem_or_null(id=2,sz=20)");
    expectBoth("dynptr_skb_cgroup_ports", "fp-16=dynptr_skb(id=1,dynptr_id=1)");
  });
  it("tagged global function arguments in the callee", () => {
    expectBoth("argtag_nullable_trusted", "R1=trusted_ptr_or_null_task_struct(id=3)");
    expectBoth("argtag_untrusted_bytes", "R1=rdonly_untrusted_mem(sz=0)");
  });
  it("a failed bpf_res_spin_lock: an errno in R0 and no lock", () => {
    expectBoth(
      "resspin_tc_token_bucket",
      "from 14 to 15: R0=scalar(smin=smin32=-4095,smax=smax32=-1,umin=0xfffffffffffff001,umin32=0xfffff001,var_off=(0xfffffffffffff000; 0xfff))",
    );
  });
  it("an irq flag slot and the lock and irq references", () => {
    expectBoth("resspin_irqsave_stats", "fp-16=ffffffff");
    expectBoth("resspin_irqsave_stats", "refs=1,2");
  });
});
