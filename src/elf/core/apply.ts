/**
 * Applying CO-RE decisions to an instruction list: each record names a slot; the instruction
 * there is patched (or poisoned) in place, records applying in order to what earlier ones left.
 * A poisoned ld_imm64 becomes two `call 0xbad2310` slots, so the slot count never changes.
 */
import { BtfError } from "../../errors.js";
import { type Instruction, OP_LD_IMM64, slotOffsets } from "../../isa/instruction.js";
import { CORE_ERROR } from "./btf-access.js";
import { type InsnPatch, POISON_SLOT, patchInsn } from "./patch.js";
import type { CoreDecision, CoreError } from "./resolve.js";

export type CoreOutcome = "patched" | "poisoned" | "failed";

export interface AppliedRecord {
  readonly outcome: CoreOutcome;
  /** Index into the instruction list given (the ld_imm64 itself when the slot is its second half). */
  readonly insn: number;
  readonly patch: InsnPatch | undefined;
  readonly error: CoreError | undefined;
}

/** A mutable view of a program's instructions addressed by slot. */
export class SlotPatcher {
  private readonly insns: (Instruction | readonly Instruction[])[];
  private readonly slotToInsn: Map<number, number>;
  private readonly wideOf: Map<number, number>;
  readonly slotCount: number;

  constructor(insns: readonly Instruction[]) {
    this.insns = insns.slice();
    const offs = slotOffsets(insns);
    this.slotToInsn = new Map(offs.map((s, i) => [s, i]));
    this.wideOf = new Map();
    insns.forEach((ins, i) => {
      if (ins.opcode === OP_LD_IMM64) this.wideOf.set(offs[i] + 1, i);
    });
    this.slotCount =
      insns.length === 0
        ? 0
        : offs[insns.length - 1] + (insns[insns.length - 1].opcode === OP_LD_IMM64 ? 2 : 1);
  }

  /** Apply one decision at `slot`; `fnInsn` is the instruction number used in messages. */
  apply(slot: number, decision: CoreDecision, fnInsn: number = slot): AppliedRecord {
    const at = this.slotToInsn.get(slot);
    const wideParent = this.wideOf.get(slot);
    const index = at ?? wideParent;
    if (!Number.isInteger(slot) || index === undefined) {
      return {
        outcome: "failed",
        insn: -1,
        patch: undefined,
        error: {
          code: CORE_ERROR.INSN_OFFSET,
          message: `insn #${fnInsn}: slot ${slot} is outside the program (${this.slotCount} slots)`,
        },
      };
    }
    if (decision.error || !decision.values) {
      return { outcome: "failed", insn: index, patch: undefined, error: decision.error };
    }
    const current = this.insns[index];
    if (Array.isArray(current)) {
      // Already poisoned as a whole ld_imm64: libbpf would see two calls; a call is not relocatable.
      return this.applyToSlot(index, current as readonly Instruction[], slot, decision, fnInsn);
    }
    const ins = current as Instruction;
    try {
      if (at === undefined) {
        // The second half of an ld_imm64: only poisoning makes sense there (libbpf: unexpected form).
        const half: Instruction = { ...(ins.wide ?? POISON_SLOT) };
        const p = patchInsn(half, fnInsn, decision.values);
        const wide = p.poisoned ? { ...POISON_SLOT } : p.replacement[0];
        this.insns[index] = { ...ins, wide };
        return { outcome: p.poisoned ? "poisoned" : "patched", insn: index, patch: p, error: undefined };
      }
      const p = patchInsn(ins, fnInsn, decision.values);
      this.insns[index] = p.replacement.length === 1 ? p.replacement[0] : p.replacement;
      return { outcome: p.poisoned ? "poisoned" : "patched", insn: index, patch: p, error: undefined };
    } catch (e) {
      if (!(e instanceof BtfError)) throw e;
      return {
        outcome: "failed",
        insn: index,
        patch: undefined,
        error: { code: e.code, message: e.message },
      };
    }
  }

  private applyToSlot(
    index: number,
    pair: readonly Instruction[],
    slot: number,
    decision: CoreDecision,
    fnInsn: number,
  ): AppliedRecord {
    const half = this.slotToInsn.get(slot) === index ? 0 : 1;
    try {
      const p = patchInsn(pair[half], fnInsn, decision.values!);
      const next = pair.slice();
      next[half] = p.replacement[0];
      this.insns[index] = next;
      return { outcome: p.poisoned ? "poisoned" : "patched", insn: index, patch: p, error: undefined };
    } catch (e) {
      if (!(e instanceof BtfError)) throw e;
      return {
        outcome: "failed",
        insn: index,
        patch: undefined,
        error: { code: e.code, message: e.message },
      };
    }
  }

  /** The instructions now, poisoned ld_imm64s expanded to their two call slots. */
  result(): Instruction[] {
    const out: Instruction[] = [];
    for (const x of this.insns) {
      if (Array.isArray(x)) out.push(...(x as readonly Instruction[]));
      else out.push(x as Instruction);
    }
    return out;
  }
}
