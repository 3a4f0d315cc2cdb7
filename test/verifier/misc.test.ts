import { describe, expect, it } from "vitest";
import type { VerifyResult } from "../../src/verifier/verify.js";
import { type CorpusGolden, readCorpus, verifyCorpusFixture } from "../fixtures/verifier-corpus/golden.js";

/**
 * Map-in-map, global function arguments, dynptrs and callbacks (the corpus's misc_ fixtures):
 * the offline verifier against the kernel 6.18 goldens, fixture by fixture, and the wordings
 * of the log lines these areas print, taken from the goldens' logs.
 */
const goldens = new Map<string, CorpusGolden>(
  readCorpus()
    .filter((g) => g.name.startsWith("misc_"))
    .map((g) => [g.name, g]),
);

function ours(name: string, logLevel: 1 | 2 = 1): { g: CorpusGolden; r: VerifyResult } {
  const g = goldens.get(name);
  if (!g) throw new Error(`no golden for ${name}`);
  return { g, r: verifyCorpusFixture(g, logLevel) };
}

/** Fixtures whose verdict we share but not the message (none at present). */
const MESSAGE_DIFFERS = new Set<string>();

describe("misc_ fixtures: the kernel's verdict, message, instruction and processed count", () => {
  it("covers at least ten fixtures, half of them rejects", () => {
    const all = [...goldens.values()];
    expect(all.length).toBeGreaterThanOrEqual(10);
    expect(all.filter((g) => g.expected === "reject").length).toBeGreaterThanOrEqual(5);
  });
  for (const name of goldens.keys()) {
    it(name, () => {
      const { g, r } = ours(name);
      const k = g.programs[0]!;
      expect(r.verdict).toBe(k.verdict);
      if (k.error) {
        expect(r.error?.modelled).toBe(true);
        expect(r.error?.insn).toBe(k.error.insn);
        if (!MESSAGE_DIFFERS.has(name)) {
          const block = k.error.block;
          const msg = r.error!.message;
          expect(msg === block || msg === k.error.message || block.endsWith(`\n${msg}`)).toBe(true);
        }
      }
      if (!MESSAGE_DIFFERS.has(name)) expect(r.processedInsns).toBe(k.processedInsns);
    });
  }
});

describe("misc_ wordings, from the goldens", () => {
  const expectBoth = (name: string, text: string, level: 1 | 2 = 2): void => {
    const { g, r } = ours(name, level);
    const klog = level === 1 ? g.programs[0]!.log1 : g.programs[0]!.log2;
    expect(klog).toContain(text);
    expect(r.log).toContain(text);
  };

  it("map-in-map: the outer lookup is a maybe-NULL value of the outer map, then the unnamed inner meta", () => {
    expectBoth("misc_mim_class_counters", "R0=map_value_or_null(id=1,map=tables,ks=4,vs=4)");
    expectBoth("misc_mim_class_counters", "R1=map_ptr(ks=4,vs=8)");
  });

  it("map-in-map mistakes", () => {
    expect(ours("misc_mim_inner_no_null_check").r.error?.message).toBe(
      "R1 type=map_value_or_null expected=map_ptr",
    );
    expect(ours("misc_mim_value_as_map").r.error?.message).toBe("R1 type=map_value expected=map_ptr");
  });

  it("global functions: the caller's mismatch, then 'Caller passes invalid args'", () => {
    expect(ours("misc_global_ctx_wrong_arg").r.error?.message).toBe(
      "arg#0 expects pointer to ctx\nCaller passes invalid args into func#1 ('classify')",
    );
    expect(ours("misc_global_nonnull_passed_null").r.error?.message).toBe(
      "arg#0 is expected to be non-NULL\nCaller passes invalid args into func#1 ('account')",
    );
  });

  it("global functions: the prototype's own faults fail the call", () => {
    expect(ours("misc_global_void_ptr_arg").r.error?.message).toBe(
      "arg#0 reference type('UNKNOWN ') size cannot be determined: -22\nCaller passes invalid args into func#1 ('hash_key')",
    );
    expect(ours("misc_global_arg_ctx_wrong_type").r.error?.message).toBe(
      "arg#0 should be `struct __sk_buff *`\nCaller passes invalid args into func#1 ('ifindex_of')",
    );
  });

  it("global functions: a context argument starts as ctx in the callee", () => {
    expectBoth("misc_global_ctx_helper", "Validating read_prio() func#2...");
    expectBoth("misc_global_ctx_helper", "21: R1=ctx() R10=fp0");
    expectBoth("misc_global_ctx_helper", "Func#1 ('classify') is global and assumed valid.");
  });

  it("dynptrs: the slot print and the leak", () => {
    expectBoth("misc_dynptr_ringbuf_leak", "fp-16=dynptr_ringbuf(id=1,ref_id=2,dynptr_id=1)");
    expect(ours("misc_dynptr_ringbuf_leak").r.error?.message).toBe(
      "Unreleased reference id=2 alloc_insn=9\nBPF_EXIT instruction in main prog would lead to reference leak",
    );
    expect(ours("misc_dynptr_read_uninit").r.error?.message).toBe("Expected an initialized dynptr as arg #2");
    expect(ours("misc_dynptr_reinit").r.error?.message).toBe("cannot overwrite referenced dynptr");
  });

  it("const dynptrs: user ring buffer samples and global function arguments", () => {
    expect(ours("misc_user_ringbuf_release_const").r.error?.message).toBe(
      "cannot release unowned const bpf_dynptr",
    );
    expect(ours("misc_global_dynptr_uninit").r.error?.message).toBe(
      "Expected an initialized dynptr as arg #0\nCaller passes invalid args into func#1 ('first_byte')",
    );
  });

  it("callbacks: the return range and the read-only key", () => {
    expect(ours("misc_for_each_bad_return").r.error?.message).toBe(
      "At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]",
    );
    expect(ours("misc_for_each_write_key").r.error?.message).toBe("write to change key R2 not allowed");
  });

  it("callbacks: a bpf_loop counter converges by widening, as in the kernel", () => {
    const { g, r } = ours("misc_bpf_loop_counter_ctx");
    expect(r.verdict).toBe("accept");
    expect(r.processedInsns).toBe(g.programs[0]!.processedInsns);
  });

  it("iterators: the slot and element prints, the leak and the use after destroy", () => {
    expectBoth("misc_iter_num_sum", "fp-8=iter_num(ref_id=1,state=active,depth=1)");
    expectBoth("misc_iter_num_sum", "R0=rdonly_mem(id=2,ref_obj_id=1,sz=4)");
    expect(ours("misc_iter_num_no_destroy").r.error?.message).toBe(
      "Unreleased reference id=1 alloc_insn=4\nBPF_EXIT instruction in main prog would lead to reference leak",
    );
    expect(ours("misc_iter_num_next_after_destroy").r.error?.message).toBe(
      "expected an initialized iter_num as arg #0",
    );
  });

  it("callbacks: an off-by-one index in a bpf_loop callback is caught on a later iteration", () => {
    // the counter is a 4-byte narrow spill the kernel keeps exact across iterations
    const { g, r } = ours("misc_bpf_loop_unbounded_index");
    expect(r.error?.message).toBe("invalid write to stack R5 off=0 size=8");
    expect(r.error?.insn).toBe(g.programs[0]!.error!.insn);
    expect(r.processedInsns).toBe(g.programs[0]!.processedInsns);
  });
});
