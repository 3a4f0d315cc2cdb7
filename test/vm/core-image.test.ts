/**
 * A CO-RE program offline: core.c's raw_tp/sys_enter program is relocated against the running
 * kernel's BTF and reads a task_struct through bpf_probe_read_kernel from a memory image the test
 * lays out with the same BTF (task, parent task, cred, mm). The values the program stores must be
 * the ones put in the image, and the CO-RE constants the ones the BTF gives.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Btf } from "../../src/elf/btf/btf.js";
import { btfFromBytes } from "../../src/elf/btf/load.js";
import { memberOffset } from "../../src/elf/btf/member.js";
import { openObject } from "../../src/elf/object/open.js";
import { simulate } from "../../src/vm/simulate.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const missing = existsSync(VMLINUX) ? undefined : `${VMLINUX} not found`;
if (missing) console.warn(`skipping CO-RE image test: ${missing}`);

function structId(btf: Btf, name: string): number {
  const t = btf.findByName(name, "STRUCT");
  if (!t) throw new Error(`no struct ${name}`);
  return t.id;
}

describe.skipIf(missing !== undefined)("CO-RE program on a task_struct memory image", () => {
  it("reads pid, tgid, parent, state, uid, total_vm and comm through probe_read_kernel", async () => {
    const bytes = readFileSync(VMLINUX);
    const btf = btfFromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const task = structId(btf, "task_struct");
    const off = (s: number, path: string) => memberOffset(btf, s, path).bitOffset / 8;
    const TASK = 0xffff888000100000n;
    const PARENT = 0xffff888000200000n;
    const CRED = 0xffff888000300000n;
    const MM = 0xffff888000400000n;
    const taskSize = btf.sizeOf(task);
    const t = new Uint8Array(taskSize);
    const p = new Uint8Array(taskSize);
    const tv = new DataView(t.buffer);
    tv.setInt32(off(task, "pid"), 4242, true);
    tv.setInt32(off(task, "tgid"), 4240, true);
    tv.setUint32(off(task, "__state"), 1, true);
    tv.setBigUint64(off(task, "real_parent"), PARENT, true);
    tv.setBigUint64(off(task, "cred"), CRED, true);
    tv.setBigUint64(off(task, "mm"), MM, true);
    t.set(Buffer.from("worker\0"), off(task, "comm"));
    new DataView(p.buffer).setInt32(off(task, "tgid"), 1, true);
    const credId = structId(btf, "cred");
    const cred = new Uint8Array(btf.sizeOf(credId));
    new DataView(cred.buffer).setUint32(off(credId, "uid"), 1001, true);
    const mmId = structId(btf, "mm_struct");
    const mm = new Uint8Array(btf.sizeOf(mmId));
    new DataView(mm.buffer).setBigUint64(off(mmId, "total_vm"), 777n, true);

    const sim = simulate(await openObject("test/fixtures/obj/core.el.v3.o"), {
      btf,
      task: { task: TASK },
      kernelMemory: [
        { address: TASK, bytes: t },
        { address: PARENT, bytes: p },
        { address: CRED, bytes: cred },
        { address: MM, bytes: mm },
      ],
    });
    expect(sim.program("on_sys_enter").run({ ctx: [0, 59] }).retval).toBe(0);
    const info = sim.map("tasks").get(4242) as Record<string, unknown>;
    const flags = memberOffset(btf, task, "flags");
    const pidType = btf.findByName("pid_type", "ENUM");
    const tgidEnum =
      pidType?.kind === "ENUM" ? pidType.values.find((v) => v.name === "PIDTYPE_TGID")?.value : undefined;
    expect(info).toMatchObject({
      pid: 4242,
      tgid: 4240,
      ppid: 1,
      state: 1,
      uid: 1001,
      total_vm: 777n,
      comm: "worker",
      flags_size: btf.sizeOf(flags.type),
      has_fake_field: 0,
      has_missing_type: 0,
      task_size: taskSize,
      tgid_enum: BigInt(tgidEnum ?? -1),
      missing_enum: 0n,
      btf_id: task,
    });
  });
});
