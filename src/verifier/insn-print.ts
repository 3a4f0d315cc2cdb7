/**
 * Instructions as the kernel's verifier log prints them (kernel/bpf/disasm.c format, e.g.
 * `(79) r1 = *(u64 *)(r1 +8)`), written from the observed log format.
 */
import { helperById } from "../abi/helpers.js";
import type { Instruction } from "../isa/instruction.js";

/** The kernel log's operator for each ALU op code (also used in verifier messages). */
export const ALU_STR: Readonly<Record<number, string>> = {
  0: "+=",
  16: "-=",
  32: "*=",
  48: "/=",
  64: "|=",
  80: "&=",
  96: "<<=",
  112: ">>=",
  128: "neg",
  144: "%=",
  160: "^=",
  176: "=",
  192: "s>>=",
  208: "endian",
};
const JMP_STR: Readonly<Record<number, string>> = {
  16: "==",
  32: ">",
  48: ">=",
  64: "&",
  80: "!=",
  96: "s>",
  112: "s>=",
  160: "<",
  176: "<=",
  192: "s<",
  208: "s<=",
};
const SIZE_STR: Readonly<Record<number, string>> = { 0: "u32", 8: "u16", 16: "u8", 24: "u64" };
const SSIZE_STR: Readonly<Record<number, string>> = { 0: "s32", 8: "s16", 16: "s8", 24: "s64" };
const hex2 = (n: number): string => n.toString(16).padStart(2, "0");
const soff = (o: number): string => (o >= 0 ? `+${o}` : `${o}`);

export function kernelInsnText(i: Instruction, imm64?: bigint): string {
  const code = i.opcode;
  const cls = code & 7;
  const op = code & 0xf0;
  const x = (code & 8) !== 0;
  const pre = `(${hex2(code)}) `;
  if (cls === 4 || cls === 7) {
    const r = cls === 7 ? "r" : "w";
    if (op === 0x80) return `${pre}${r}${i.dst} = -${r}${i.dst}`;
    if (op === 0xd0) {
      if (cls === 7) return `${pre}r${i.dst} = bswap${i.imm} r${i.dst}`;
      return `${pre}r${i.dst} = ${x ? "be" : "le"}${i.imm} r${i.dst}`;
    }
    let s = ALU_STR[op] ?? "?";
    if (i.off === 1 && (op === 0x30 || op === 0x90)) s = `s${s}`;
    if (op === 0xb0 && x && i.off !== 0) return `${pre}${r}${i.dst} = (s${i.off})${r}${i.src}`;
    return x ? `${pre}${r}${i.dst} ${s} ${r}${i.src}` : `${pre}${r}${i.dst} ${s} ${i.imm}`;
  }
  if (cls === 1) {
    const mode = code & 0xe0;
    const sz = (mode === 0x80 ? SSIZE_STR : SIZE_STR)[code & 0x18];
    return `${pre}r${i.dst} = *(${sz} *)(r${i.src} ${soff(i.off)})`;
  }
  if (cls === 3) {
    const sz = SIZE_STR[code & 0x18];
    if ((code & 0xe0) === 0xc0) {
      const a = i.imm & ~1;
      const fetch = (i.imm & 1) !== 0;
      const names: Record<number, string> = { 0: "add", 64: "or", 80: "and", 160: "xor" };
      if (i.imm === 0xe1)
        return `${pre}r${i.src} = atomic${sz === "u64" ? "64" : ""}_xchg((${sz} *)(r${i.dst} ${soff(i.off)}), r${i.src})`;
      if (i.imm === 0xf1)
        return `${pre}r0 = atomic${sz === "u64" ? "64" : ""}_cmpxchg((${sz} *)(r${i.dst} ${soff(i.off)}), r0, r${i.src})`;
      const n = names[a] ?? "?";
      if (fetch)
        return `${pre}r${i.src} = atomic${sz === "u64" ? "64" : ""}_fetch_${n}((${sz} *)(r${i.dst} ${soff(i.off)}), r${i.src})`;
      const sym: Record<string, string> = { add: "+=", or: "|=", and: "&=", xor: "^=" };
      return `${pre}lock *(${sz} *)(r${i.dst} ${soff(i.off)}) ${sym[n] ?? "?"} r${i.src}`;
    }
    return `${pre}*(${sz} *)(r${i.dst} ${soff(i.off)}) = r${i.src}`;
  }
  if (cls === 2) return `${pre}*(${SIZE_STR[code & 0x18]} *)(r${i.dst} ${soff(i.off)}) = ${i.imm}`;
  if (cls === 0) {
    if (code === 0x18) return `${pre}r${i.dst} = 0x${(imm64 ?? 0n).toString(16)}`;
    const sz = SIZE_STR[code & 0x18];
    if ((code & 0xe0) === 0x20) return `${pre}r0 = *(${sz} *)skb[${i.imm}]`;
    return `${pre}r0 = *(${sz} *)skb[r${i.src} + ${i.imm}]`;
  }
  // JMP / JMP32
  if (op === 0x80) {
    if (i.src === 1) return `${pre}call pc${soff(i.imm)}`;
    if (i.src === 2) {
      // the kernel names a kfunc it resolved by its BTF name and id
      return i.ref?.kind === "extern" && i.imm > 0
        ? `${pre}call ${i.ref.symbol}#${i.imm}`
        : `${pre}call kernel-function`;
    }
    const h = helperById(i.imm);
    return `${pre}call ${h ? h.name : "unknown"}#${i.imm}`;
  }
  if (op === 0x90) return `${pre}exit`;
  if (op === 0x00) return cls === 6 ? `${pre}gotol pc${soff(i.imm)}` : `${pre}goto pc${soff(i.off)}`;
  const r = cls === 6 ? "w" : "r";
  const s = JMP_STR[op] ?? "?";
  const rhs = x ? `${r}${i.src}` : `0x${(i.imm >>> 0).toString(16)}`;
  return `${pre}if ${r}${i.dst} ${s} ${rhs} goto pc${soff(i.off)}`;
}
