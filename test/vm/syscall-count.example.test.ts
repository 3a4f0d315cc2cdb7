import { expect, test } from "vitest";
import { openObject } from "../../src/elf/object/open.js";
import { simulate } from "../../src/vm/simulate.js";

test("syscall-count counts each syscall id it sees", async () => {
  const obj = await openObject("examples/syscall-count/syscall_count.bpf.o");
  const sim = simulate(obj);
  const prog = sim.program("trace_sys_enter");

  // raw_syscalls/sys_enter records: read (0) once, write (1) twice, execve (59) three times
  for (const id of [0, 1, 1, 59, 59, 59]) {
    expect(prog.run({ ctx: { id } }).retval).toBe(0);
  }

  const counts = sim.map("syscall_counts");
  expect(counts.get(0)).toBe(1n);
  expect(counts.get(1)).toBe(2n);
  expect(counts.get(59)).toBe(3n);
  expect(counts.get(2)).toBeUndefined();
  expect(counts.size).toBe(3);
});
