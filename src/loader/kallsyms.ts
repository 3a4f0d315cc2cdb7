/**
 * /proc/kallsyms, read once: where libbpf finds the address of a typeless `__ksym` extern. A
 * reader without CAP_SYSLOG sees every address as 0 (kptr_restrict): the symbol is then known
 * to exist, at an address we cannot know.
 */
import { readFileSync } from "node:fs";

export interface KallsymsEntry {
  /** The symbol is listed. */
  readonly present: boolean;
  /** Its address, when listed and readable (not 0). */
  readonly address?: bigint;
}

let cache: Map<string, bigint> | undefined;

export function kallsymsLookup(name: string): KallsymsEntry {
  if (!cache) {
    cache = new Map();
    try {
      for (const line of readFileSync("/proc/kallsyms", "utf8").split("\n")) {
        const [addr, , sym] = line.split(/\s+/);
        if (sym && addr && !cache.has(sym)) cache.set(sym, BigInt(`0x${addr}`));
      }
    } catch {
      // unreadable: every typeless ksym is then missing
    }
  }
  const a = cache.get(name);
  if (a === undefined) return { present: false };
  return a === 0n ? { present: true } : { present: true, address: a };
}
