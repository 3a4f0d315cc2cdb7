/**
 * The kernel's BPF printf: the format rules of bpf_bprintf_prepare (what bpf_trace_printk,
 * bpf_trace_vprintk and bpf_snprintf accept) and the output of the kernel's vsnprintf for them.
 *
 * Accepted: %% ; %d %i %u %x %X with optional l / ll ; %c ; %s ; %p with the extensions %pK %px
 * %ps %pS %pB %pks %pus %pi4 %pI4 %pi6 %pI6 ; flags 0 + - space and a width before the
 * conversion. Anything else (precision, %o, h, #, non-printable characters, more conversions
 * than arguments) makes the helper fail with -EINVAL, as in the kernel.
 *
 * Differences (documented): plain %p, %pK print the raw address where the kernel prints a
 * hashed one; %ps/%pS/%pB print the address in hex (no kallsyms offline).
 */
import { EINVAL } from "../maps/errno.js";

/** How a conversion fetches its argument: a 64-bit value, or memory for %s / %pI4. */
export interface FormatArgs {
  /** Argument i as the raw 64-bit register value. */
  value(i: number): bigint;
  /** String at an address (kernel or user), or undefined when it cannot be read. */
  string(address: bigint, user: boolean): string | undefined;
  /** `n` bytes at an address, or undefined. */
  bytes(address: bigint, n: number): Uint8Array | undefined;
}

interface Spec {
  left: boolean;
  plus: boolean;
  space: boolean;
  zero: boolean;
  width: number;
}

function isPrintable(c: number): boolean {
  return (c >= 0x20 && c < 0x7f) || (c >= 0x09 && c <= 0x0d);
}

function isPunct(c: string): boolean {
  return /^[!-/:-@[-`{-~]$/.test(c);
}

function pad(s: string, spec: Spec, numeric: boolean): string {
  if (s.length >= spec.width) return s;
  if (spec.left) return s + " ".repeat(spec.width - s.length);
  if (spec.zero && numeric) {
    const sign = /^[-+ ]/.test(s) ? s[0] : "";
    return sign + "0".repeat(spec.width - s.length) + s.slice(sign.length);
  }
  return " ".repeat(spec.width - s.length) + s;
}

function hex16(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16).padStart(16, "0");
}

function ip6(b: Uint8Array, compact: boolean): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push(((b[i] << 8) | b[i + 1]).toString(16).padStart(compact ? 1 : 4, "0"));
  return compact ? groups.join(":") : groups.join(":");
}

/**
 * Format like the kernel. Returns the text, or a negative errno when bpf_bprintf_prepare
 * refuses the format. `nargs` is how many arguments there are (3 for bpf_trace_printk).
 */
export function bpfFormat(fmt: string, nargs: number, args: FormatArgs): string | number {
  let out = "";
  let argi = 0;
  for (let i = 0; i < fmt.length; i++) {
    const code = fmt.charCodeAt(i);
    if (!isPrintable(code) || code > 0x7f) return -EINVAL;
    if (fmt[i] !== "%") {
      out += fmt[i];
      continue;
    }
    if (fmt[i + 1] === "%") {
      out += "%";
      i++;
      continue;
    }
    if (argi >= nargs) return -EINVAL;
    i++;
    const spec: Spec = { left: false, plus: false, space: false, zero: false, width: 0 };
    while ("0+- ".includes(fmt[i] ?? "x")) {
      if (fmt[i] === "0") spec.zero = true;
      else if (fmt[i] === "+") spec.plus = true;
      else if (fmt[i] === "-") spec.left = true;
      else spec.space = true;
      i++;
    }
    if (fmt[i] >= "1" && fmt[i] <= "9") {
      let w = 0;
      while (fmt[i] >= "0" && fmt[i] <= "9") w = w * 10 + Number(fmt[i++]);
      spec.width = w;
    }
    const next = fmt[i + 1] ?? "";
    const endsHere = (c: string): boolean => c === "" || /\s/.test(c) || isPunct(c);
    const v = args.value(argi);
    if (fmt[i] === "p") {
      argi++;
      if ((next === "k" || next === "u") && fmt[i + 2] === "s") {
        i += 2;
        if (!endsHere(fmt[i + 1] ?? "")) return -EINVAL;
        out += pad(args.string(v, next === "u") ?? "", spec, false);
        continue;
      }
      if ("KxsSB".includes(next) && next !== "") {
        i++;
        out += pad(
          next === "x" || next === "K" ? hex16(v) : `0x${BigInt.asUintN(64, v).toString(16)}`,
          spec,
          false,
        );
        continue;
      }
      if ((next === "i" || next === "I") && (fmt[i + 2] === "4" || fmt[i + 2] === "6")) {
        const six = fmt[i + 2] === "6";
        i += 2;
        const b = args.bytes(v, six ? 16 : 4);
        if (b === undefined) return -EINVAL;
        if (six)
          out += pad(
            next === "I" ? ip6(b, false) : [...b].map((x) => x.toString(16).padStart(2, "0")).join(""),
            spec,
            false,
          );
        else
          out += pad(
            [...b].map((x) => (next === "i" ? String(x).padStart(3, "0") : String(x))).join("."),
            spec,
            false,
          );
        continue;
      }
      if (!endsHere(next)) return -EINVAL;
      out += pad(hex16(v), spec, false);
      continue;
    }
    if (fmt[i] === "s") {
      if (!endsHere(next)) return -EINVAL;
      argi++;
      out += pad(args.string(v, false) ?? "", spec, false);
      continue;
    }
    if (fmt[i] === "c") {
      argi++;
      out += pad(String.fromCharCode(Number(v & 0xffn)), spec, false);
      continue;
    }
    let bits = 32;
    if (fmt[i] === "l") {
      bits = 64;
      i++;
      if (fmt[i] === "l") i++;
    }
    const conv = fmt[i];
    if (conv !== "d" && conv !== "i" && conv !== "u" && conv !== "x" && conv !== "X") return -EINVAL;
    argi++;
    let s: string;
    if (conv === "d" || conv === "i") {
      const n = BigInt.asIntN(bits, v);
      s = n < 0n ? `-${(-n).toString()}` : `${spec.plus ? "+" : spec.space ? " " : ""}${n.toString()}`;
    } else {
      const n = BigInt.asUintN(bits, v);
      s = conv === "u" ? n.toString() : conv === "x" ? n.toString(16) : n.toString(16).toUpperCase();
    }
    out += pad(s, spec, true);
  }
  return out;
}
