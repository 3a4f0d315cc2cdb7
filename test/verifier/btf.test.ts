import { existsSync } from "node:fs";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { registerVerify } from "../../src/cli/commands/verify.js";
import { captureIo } from "../../src/cli/io.js";
import { memberOffset } from "../../src/elf/btf/member.js";
import { openObject } from "../../src/elf/object/index.js";
import { BtfError } from "../../src/errors.js";
import { sameMessage } from "../../src/verifier/diff.js";
import { KERNEL_BTF_DEFAULT, kernelBtf, SHIPPED_KERNEL_BTF } from "../../src/verifier/kernel-btf.js";
import { verifyProgram } from "../../src/verifier/verify.js";
import { corpusVerdicts } from "../fixtures/verifier-corpus/golden.js";

const CORPUS = "test/fixtures/verifier-corpus/obj";
/** BTF-typed programs of the corpus: tp_btf, iter, kfuncs, CO-RE against the kernel's BTF. */
const btfRows = corpusVerdicts().filter((r) => /\/(btf_|tp_btf_)[^/]*\.o$/.test(r.file));

describe("kernel BTF for the verifier", () => {
  it("reads the running kernel's BTF by default and caches it per path", () => {
    const a = kernelBtf();
    expect(a.shipped).toBe(!existsSync(KERNEL_BTF_DEFAULT));
    expect(kernelBtf()).toBe(a);
    expect(a.btf.findByName("task_struct", "STRUCT")).toBeDefined();
  });

  it("falls back to the shipped 6.18 BTF when the default path is absent", () => {
    const shipped = kernelBtf(undefined, "/nonexistent/btf/vmlinux");
    expect(shipped.shipped).toBe(true);
    expect(shipped.path).toBe(SHIPPED_KERNEL_BTF);
    // the shipped copy was taken from this machine's kernel: same types, same layout
    if (existsSync(KERNEL_BTF_DEFAULT)) {
      const live = kernelBtf(KERNEL_BTF_DEFAULT).btf;
      expect(shipped.btf.typeCount).toBe(live.typeCount);
      const ts = (b: typeof live): number => b.findByName("task_struct", "STRUCT")!.id;
      expect(memberOffset(shipped.btf, ts(shipped.btf), "pid")).toEqual(memberOffset(live, ts(live), "pid"));
    }
  });

  it("refuses a missing --btf file with a typed error", () => {
    expect(() => kernelBtf("/nonexistent/vmlinux")).toThrow(BtfError);
  });

  it("gives the kernel's verdicts with the shipped BTF as with the running kernel's", async () => {
    for (const r of btfRows) {
      const obj = await openObject(r.file);
      const res = verifyProgram(obj, obj.program(r.program), { logLevel: 0, btf: SHIPPED_KERNEL_BTF });
      expect(`${r.program}: ${res.verdict}`).toBe(`${r.program}: ${r.verdict}`);
    }
  });
});

describe("BTF-typed programs against the kernel's goldens", () => {
  it("covers tp_btf, iter and kfunc fixtures of both verdicts", () => {
    expect(btfRows.filter((r) => r.verdict === "accept").length).toBeGreaterThanOrEqual(8);
    expect(btfRows.filter((r) => r.verdict === "reject").length).toBeGreaterThanOrEqual(8);
  });

  for (const r of btfRows) {
    it(`${r.file.split("/").pop()}: same verdict, message, instruction and processed count`, async () => {
      const obj = await openObject(r.file);
      const res = verifyProgram(obj, obj.program(r.program), { logLevel: 0 });
      expect(res.error?.modelled ?? true).toBe(true);
      expect(res.verdict).toBe(r.verdict);
      if (r.verdict === "reject") {
        expect(sameMessage(res.error?.message, { ...r, file: r.file })).toBe(true);
        if (r.insn !== undefined) expect(res.error?.insn).toBe(r.insn);
      }
      expect(res.processedInsns).toBe(r.processedInsns);
    });
  }
});

describe("CO-RE before verification", () => {
  it("relocates field offsets for the kernel BTF, as the loader does", async () => {
    const file = `${CORPUS}/accept/btf_rcu_real_parent.o`;
    const obj = await openObject(file);
    const prog = obj.program("on_exec");
    expect(prog.coreRelos.length).toBeGreaterThan(0);
    const res = verifyProgram(obj, prog, { logLevel: 2 });
    expect(res.verdict).toBe("accept");
    // the real_parent load uses the kernel's offset (computed from its BTF), not the local one
    const btf = kernelBtf().btf;
    const ts = btf.findByName("task_struct", "STRUCT")!.id;
    const off = memberOffset(btf, ts, "real_parent").bitOffset / 8;
    expect(res.log).toContain(`+${off})`);
    expect(res.log).toMatch(/R\d=rcu_ptr_task_struct\(\)/);
  });

  it("a poisoned CO-RE load is the kernel's invalid call", async () => {
    const obj = await openObject(`${CORPUS}/reject/btf_core_missing_field.o`);
    const res = verifyProgram(obj, obj.program("on_exec"), { logLevel: 0 });
    expect(res.error?.message).toBe("invalid func unknown#195896080");
  });
});

describe("tsbpf verify --btf", () => {
  async function run(args: string[]): Promise<ReturnType<typeof captureIo>> {
    const io = captureIo();
    const program = new Command().exitOverride();
    registerVerify(program, io);
    await program.parseAsync(["node", "tsbpf", "verify", ...args]);
    return io;
  }

  it("verifies a tp_btf program against a named BTF file", async () => {
    const io = await run([
      "--format",
      "json",
      "--btf",
      SHIPPED_KERNEL_BTF,
      `${CORPUS}/reject/tp_btf_write_task_field.o`,
    ]);
    const j = JSON.parse(io.out);
    expect(j.programs[0].error.message).toBe("only read is supported");
    expect(io.exitCode).toBe(1);
  });

  it("a missing --btf file is bad input", async () => {
    await expect(
      run(["--btf", "/nonexistent/vmlinux", `${CORPUS}/accept/tp_btf_sched_switch.o`]),
    ).rejects.toThrow(BtfError);
  });
});
