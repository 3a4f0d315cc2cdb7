import { insn } from "../../src/isa/instruction.js";
import { loadProgram, testRun } from "../../src/loader/bpf.js";

/**
 * Why the kernel cannot be the oracle of the VM's differential tests here (undefined when it
 * can): an XDP program returning XDP_PASS must load and BPF_PROG_TEST_RUN must return it.
 */
export function testRunUnavailable(): string | undefined {
  try {
    const p = loadProgram({ type: 6, insns: [insn(0xb7, 0, 0, 0, 2), insn(0x95)] });
    const r = testRun(p.fd, { data: new Uint8Array(64) });
    p.fd.close();
    return r.retval === 2 ? undefined : `XDP test run returned ${r.retval}`;
  } catch (e) {
    return `kernel BPF_PROG_TEST_RUN unavailable: ${e instanceof Error ? e.message : String(e)}`;
  }
}
