/**
 * IRQ flags on the stack (6.18: STACK_IRQ_FLAG, process_irq_flag): bpf_local_irq_save and
 * bpf_res_spin_lock_irqsave save the interrupt state into an 8-byte stack slot, which becomes an
 * irq flag holding an IRQ reference (REF_TYPE_IRQ); bpf_local_irq_restore and
 * bpf_res_spin_unlock_irqrestore restore it, in the reverse order of the saves and with the same
 * family of kfuncs (native or lock). An exit with interrupts still disabled is refused
 * (check_resource_leak, refs.ts). Plain stack writes over an irq flag are refused as not
 * modelled (the kernel scrubs the slot and keeps the reference); reads fail in the kernel's words
 * (memory.ts).
 */
import { VerifyAbort } from "./errors.js";
import { isConst } from "./scalar.js";
import { type Frame, notInit, pointer, type Reg, type VState } from "./state.js";

export const IRQ_FLAG_SLOT = "f";

export type IrqClass = "native" | "lock";

/** Does [lo, hi) of the stack (byte offsets from the frame pointer) touch an irq flag slot? */
export function touchesIrqFlag(f: Frame, lo: number, hi: number): boolean {
  for (let b = lo; b < hi; b++)
    if (f.stack[Math.floor((-b - 1) / 8)]?.kinds[0] === IRQ_FLAG_SLOT) return true;
  return false;
}

/** stack_slot_obj_get_spi(reg, "irq_flag", 1): the slot index, or the kernel's complaint. */
function irqFlagSpi(reg: Reg): number | string {
  if (!isConst(reg)) return "irq_flag has to be at a constant offset";
  const off = reg.off + Number(BigInt.asIntN(64, reg.varOff.value));
  // __get_spi divides as C does (towards zero): offset 0 still names slot 0
  const spi = Math.trunc((-off - 1) / 8);
  if (off % 8 !== 0 || spi + 1 < 1) return `cannot pass in irq_flag at an offset=${off}`;
  return spi;
}

/** The IRQ reference taken last and not yet restored (active_irq_id). */
export const activeIrq = (st: VState): number => st.refs.findLast((r) => r.kind === "irq")?.id ?? 0;

export interface IrqFlagEnv {
  newId(): number;
  /** An 8-byte stack write through register regno at offset off (check_mem_access). */
  writeStack(regno: number, off: number): void;
}

/**
 * KF_ARG_PTR_TO_IRQ_FLAG + process_irq_flag for the kfunc argument in register regno: a save
 * (`save`) or a restore, by kfuncs of class `cls`.
 */
export function processIrqFlag(
  env: IrqFlagEnv,
  st: VState,
  t: number,
  regno: number,
  save: boolean,
  cls: IrqClass,
): void {
  const reg = st.frames[st.frames.length - 1]!.regs[regno]!;
  const argNo = regno - 1;
  if (reg.type !== "stack") throw new VerifyAbort(t, `arg#${argNo} doesn't point to an irq flag on stack`);
  const f = st.frames[reg.frameno]!;
  const spi = irqFlagSpi(reg);
  if (save) {
    if (typeof spi === "string")
      throw new VerifyAbort(t, `${spi}\nexpected uninitialized irq flag as arg#${argNo}`);
    if (f.stack[spi]?.kinds.includes(IRQ_FLAG_SLOT))
      throw new VerifyAbort(t, `expected uninitialized irq flag as arg#${argNo}`);
    env.writeStack(regno, 0);
    const id = env.newId();
    st.refs.push({ id, insn: t, kind: "irq" });
    const slot = f.stack[spi]!;
    slot.kinds = Array(8).fill(IRQ_FLAG_SLOT);
    slot.spilled = pointer("stack", { refObjId: id, irqClass: cls });
    return;
  }
  const slot = typeof spi === "number" ? f.stack[spi] : undefined;
  if (typeof spi === "string" || !slot?.spilled.refObjId || slot.kinds.some((k) => k !== IRQ_FLAG_SLOT)) {
    const head = typeof spi === "string" ? `${spi}\n` : "";
    throw new VerifyAbort(t, `${head}expected an initialized irq flag as arg#${argNo}`);
  }
  const have = slot.spilled.irqClass ?? "native";
  if (have !== cls)
    throw new VerifyAbort(t, `irq flag acquired by ${have} kfuncs cannot be restored with ${cls} kfuncs`);
  const id = slot.spilled.refObjId;
  const active = activeIrq(st);
  if (id !== active) {
    const at = st.refs.find((r) => r.id === active)?.insn ?? 0;
    throw new VerifyAbort(
      t,
      `cannot restore irq state out of order, expected id=${active} acquired at insn_idx=${at}`,
    );
  }
  st.refs.splice(
    st.refs.findIndex((r) => r.kind === "irq" && r.id === id),
    1,
  );
  slot.kinds = ["?", "?", "?", "?", "?", "?", "?", "?"];
  slot.spilled = notInit();
}

/** stacksafe for STACK_IRQ_FLAG: the same reference (through the id map) and kfunc class. */
export const irqSlotsSafe = (a: Reg, b: Reg, sameId: (x: number, y: number) => boolean): boolean =>
  sameId(a.refObjId, b.refObjId) && (a.irqClass ?? "native") === (b.irqClass ?? "native");
