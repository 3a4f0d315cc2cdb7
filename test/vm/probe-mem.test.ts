/**
 * BPF_PROBE_MEM: in tracing programs (tp_btf, fentry...) the kernel turns loads through BTF
 * pointers into loads that cannot fault; the simulator reads them from the kernel memory image
 * and gives 0 where it has nothing, as the kernel does for a bad address.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { btfFromBytes } from "../../src/elf/btf/load.js";
import { memberOffset } from "../../src/elf/btf/member.js";
import { openObject } from "../../src/elf/object/open.js";
import { simulate } from "../../src/vm/simulate.js";

const OBJ = "test/fixtures/verifier-corpus/obj/accept/tp_btf_sched_switch.o";
const VMLINUX = "/sys/kernel/btf/vmlinux";
const missing = !existsSync(OBJ)
  ? `${OBJ} not found`
  : !existsSync(VMLINUX)
    ? `${VMLINUX} not found`
    : undefined;
if (missing) console.warn(`skipping BPF_PROBE_MEM test: ${missing}`);

describe.skipIf(missing !== undefined)("tracing programs load through BTF pointers without faulting", () => {
  it("reads task_struct fields from the image, 0 from unmapped addresses", async () => {
    const bytes = readFileSync(VMLINUX);
    const btf = btfFromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const task = btf.findByName("task_struct", "STRUCT");
    if (!task) throw new Error("no task_struct in the kernel BTF");
    const pidOff = memberOffset(btf, task.id, "pid").bitOffset / 8;
    const PREV = 0xffff888000100000n;
    const NEXT = 0xffff888000200000n;
    const image = (addr: bigint, pid: number) => {
      const b = new Uint8Array(btf.sizeOf(task.id));
      new DataView(b.buffer).setInt32(pidOff, pid, true);
      return { address: addr, bytes: b };
    };
    const spec = await openObject(OBJ);
    const sim = simulate(spec, { btf, kernelMemory: [image(PREV, 100), image(NEXT, 200)] });
    expect(sim.program("on_switch").run({ args: [0, PREV, NEXT] }).retval).toBe(0);
    expect(sim.map("last_prev").get(200)).toBe(100);
    // a task pointer the image does not have reads as zeroes, as a faulting probe load does
    sim.program("on_switch").run({ args: [0, PREV, 0x1000n] });
    expect(sim.map("last_prev").get(0)).toBe(100);
  });
});
