/** BPF_STX | BPF_ATOMIC on checked memory. */
import { VmFault } from "./errors.js";
import { checkAccess, loadInto, type Memory, storeHalves } from "./memory.js";

/**
 * BPF_ATOMIC: add/or/and/xor (optionally fetching the old value into src), xchg, cmpxchg
 * (compares with r0, old value to r0), load_acquire and store_release. 32-bit forms
 * zero-extend what they write into a register.
 */
export function atomic(
  mem: Memory,
  L: Int32Array,
  H: Int32Array,
  size: number,
  d: number,
  s: number,
  off: number,
  imm: number,
): void {
  if (imm === 0x100) {
    // load_acquire: dst = *(src + off)
    const a = (L[s] >>> 0) + off;
    const hi = a < 0 ? H[s] - 1 : a > 0xffffffff ? H[s] + 1 : H[s];
    loadInto(mem, hi, a >>> 0, size, false, L, H, d);
    return;
  }
  const a = (L[d] >>> 0) + off;
  const hi = a < 0 ? H[d] - 1 : a > 0xffffffff ? H[d] + 1 : H[d];
  const lo = a >>> 0;
  if (imm === 0x110) {
    storeHalves(mem, hi, lo, size, L[s], H[s]);
    return;
  }
  if (imm === 0xe0 || imm === 0xf0) {
    throw new VmFault("invalid-insn", `unknown atomic operation 0x${imm.toString(16)}`);
  }
  if (size !== 4 && size !== 8)
    throw new VmFault("invalid-insn", "atomic operation on a 1- or 2-byte operand");
  const r = checkAccess(mem, hi, lo, size, true);
  if (r.hooks !== null) throw new VmFault("invalid-insn", `atomic operation on ${r.name}`);
  const v = r.view;
  const oldLo = v.getInt32(lo, true);
  const oldHi = size === 8 ? v.getInt32(lo + 4, true) : 0;
  let nLo: number;
  let nHi: number;
  switch (imm & ~1) {
    case 0x00: {
      const sum = (oldLo >>> 0) + (L[s] >>> 0);
      nLo = sum | 0;
      nHi = (oldHi + H[s] + (sum > 0xffffffff ? 1 : 0)) | 0;
      break;
    }
    case 0x40:
      nLo = oldLo | L[s];
      nHi = oldHi | H[s];
      break;
    case 0x50:
      nLo = oldLo & L[s];
      nHi = oldHi & H[s];
      break;
    case 0xa0:
      nLo = oldLo ^ L[s];
      nHi = oldHi ^ H[s];
      break;
    case 0xe0: // xchg
      nLo = L[s];
      nHi = H[s];
      break;
    case 0xf0: {
      // cmpxchg: store src only when the old value equals r0 (its low half for 32-bit)
      const eq = oldLo === L[0] && (size === 4 || oldHi === H[0]);
      nLo = eq ? L[s] : oldLo;
      nHi = eq ? H[s] : oldHi;
      v.setInt32(lo, nLo, true);
      if (size === 8) v.setInt32(lo + 4, nHi, true);
      L[0] = oldLo;
      H[0] = oldHi;
      return;
    }
    default:
      throw new VmFault("invalid-insn", `unknown atomic operation 0x${(imm >>> 0).toString(16)}`);
  }
  v.setInt32(lo, nLo, true);
  if (size === 8) v.setInt32(lo + 4, nHi, true);
  if ((imm & 1) !== 0) {
    L[s] = oldLo;
    H[s] = oldHi;
  }
}
