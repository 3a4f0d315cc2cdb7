/**
 * Asks the system's libbpf (Debian's libbpf.so.1, 1.1.2 here) what it makes of SEC() names:
 * libbpf_prog_type_by_name() runs libbpf's own section table lookup. Prints JSON on stdout:
 * { libbpf, names: { <sec>: { progType, attachType } | null } }, with libbpf's own strings
 * for the types (libbpf_bpf_prog_type_str / libbpf_bpf_attach_type_str). Used by capture-sections.sh.
 */
import { readFileSync } from "node:fs";
import koffi from "koffi";

const lib = koffi.load("libbpf.so.1");
const byName = lib.func(
  "int libbpf_prog_type_by_name(const char *name, _Out_ int *prog_type, _Out_ int *attach_type)",
);
const progStr = lib.func("const char *libbpf_bpf_prog_type_str(int t)");
const attachStr = lib.func("const char *libbpf_bpf_attach_type_str(int t)");
const mapStr = lib.func("const char *libbpf_bpf_map_type_str(int t)");
const major = lib.func("uint32_t libbpf_major_version(void)");
const minor = lib.func("uint32_t libbpf_minor_version(void)");

const names = readFileSync(process.argv[2]!, "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));

const out: Record<
  string,
  { progType: string; progTypeId: number; attachType: string; attachTypeId: number } | null
> = {};
for (const name of names) {
  const pt = [0];
  const at = [0];
  const rc = byName(name, pt, at) as number;
  out[name] =
    rc === 0
      ? {
          progType: progStr(pt[0]) ?? `type ${pt[0]}`,
          progTypeId: pt[0]!,
          attachType: attachStr(at[0]) ?? `type ${at[0]}`,
          attachTypeId: at[0]!,
        }
      : null;
}
/** libbpf's own strings for every id it knows (ids 0..79 asked; null = libbpf does not know it). */
const strings = (fn: (t: number) => string | null): (string | null)[] =>
  Array.from({ length: 80 }, (_, i) => fn(i) ?? null);
const typeNames = { prog: strings(progStr), map: strings(mapStr), attach: strings(attachStr) };
console.log(JSON.stringify({ libbpf: `${major()}.${minor()}`, names: out, typeNames }, null, 1));
