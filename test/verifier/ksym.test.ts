// Typed ksyms (src/verifier/ksym.ts). This kernel has no CONFIG_KALLSYMS_ALL, so it refuses every
// per-CPU variable before verification: the corpus goldens (ksym_* in verifier-corpus) cover
// that refusal, kfunc addresses and bpf_this_cpu_ptr's argument check against the kernel. The
// per-CPU model itself is judged here with a kallsyms stand-in that lists the symbols; those
// expected messages are the 6.18 source's wording (check_ptr_to_btf_access, check_mem_access,
// check_helper_call's RET_PTR_TO_MEM_OR_BTF_ID), not a live golden, and are marked so.
import { describe, expect, it } from "vitest";
import { openObject } from "../../src/elf/object/index.js";
import { SHIPPED_KERNEL_BTF } from "../../src/verifier/kernel-btf.js";
import { verifyProgram } from "../../src/verifier/verify.js";

const DIR = "test/fixtures/ksym-model/obj";
const listed = (): { present: boolean } => ({ present: true });

async function judge(file: string, opts: Parameters<typeof verifyProgram>[2] = {}) {
  const obj = await openObject(file);
  const p = obj.programs[0]!;
  return verifyProgram(obj, p, { logLevel: 2, ...opts });
}

describe("typed per-CPU ksyms with a kallsyms that lists them (kernel source wording)", () => {
  for (const name of ["ksym_prog_active_sum", "ksym_runqueue_nr_running", "ksym_this_cpu_runq_by_cpu"]) {
    it(`${name} is accepted`, async () => {
      const r = await judge(`${DIR}/accept/${name}.o`, { kallsyms: listed });
      expect(r.error?.message).toBeUndefined();
      expect(r.verdict).toBe("accept");
    });
  }
  const rejects: readonly [string, string][] = [
    ["ksym_per_cpu_no_null_check", "R0 invalid mem access 'ptr_or_null_'"],
    ["ksym_percpu_direct_read", "R1 is ptr_rq access percpu memory: off="],
    ["ksym_this_cpu_write", "R0 cannot write into rdonly_mem"],
  ];
  for (const [name, msg] of rejects) {
    it(`${name} is rejected: ${msg}`, async () => {
      const r = await judge(`${DIR}/reject/${name}.o`, { kallsyms: listed });
      expect(r.verdict).toBe("reject");
      expect(r.error?.modelled).toBe(true);
      expect(r.error?.message.startsWith(msg)).toBe(true);
    });
  }
  it("the registers print as the kernel's reg_type_str names them", async () => {
    const r = await judge(`${DIR}/accept/ksym_this_cpu_runq_by_cpu.o`, { kallsyms: listed });
    expect(r.log).toContain("=percpu_ptr_rq()");
    expect(r.log).toContain("R0=ptr_or_null_rq(id=");
  });
});

describe("typed ksyms without a kallsyms address", () => {
  it("an unlisted symbol fails the load before any instruction, in the kernel's words", async () => {
    const r = await judge(`${DIR}/accept/ksym_runqueue_nr_running.o`, {
      kallsyms: () => ({ present: false }),
    });
    expect(r.error?.message).toBe("ldimm64 failed to find the address for kernel symbol 'runqueues'.");
    expect(r.processedInsns).toBe(0);
  });
  it("another kernel's BTF: whether it lists the symbol is unknown, so not modelled", async () => {
    const r = await judge(`${DIR}/accept/ksym_runqueue_nr_running.o`, { btf: SHIPPED_KERNEL_BTF });
    expect(r.verdict).toBe("reject");
    expect(r.error?.modelled).toBe(false);
  });
});
