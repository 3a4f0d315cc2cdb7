/**
 * The running kernel's BTF as bpftool prints it (`bpftool btf dump file /sys/kernel/btf/vmlinux`,
 * raw format), parsed just enough for the abi tests: enums, and struct/union members with their
 * offsets and sizes. `vmlinux` is undefined when bpftool or the BTF file is missing; tests skip
 * with `vmlinuxSkipReason`.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

interface RawType {
  readonly id: number;
  readonly kind: string;
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly lines: readonly string[];
}

export interface BtfMember {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly bitfield: boolean;
}

export interface VmlinuxBtf {
  enumValues(name: string): ReadonlyMap<string, number> | undefined;
  /** Members of a struct or union in order, anonymous members flattened into their parent. */
  members(structName: string): readonly BtfMember[] | undefined;
  structSize(structName: string): number | undefined;
  /** Type id of a named type of one of the given kinds (FUNC, TYPEDEF ...). */
  typeId(name: string, kind: string): number | undefined;
}

/**
 * Lazy view of bpftool's raw dump: a type's block is found with indexOf when asked for (parsing all
 * ~700k lines up front costs seconds per test file).
 */
function parse(text: string): VmlinuxBtf {
  const cache = new Map<number, RawType | undefined>();
  const blockAt = (start: number): RawType | undefined => {
    const lineEnd = text.indexOf("\n", start);
    const head = /^\[(\d+)\] (\w+) '([^']*)'(.*)$/.exec(text.slice(start, lineEnd < 0 ? undefined : lineEnd));
    if (!head) return undefined;
    const attrs: Record<string, string> = {};
    for (const m of head[4]!.matchAll(/(\w+)=(\S+)/g)) attrs[m[1]!] = m[2]!;
    const lines: string[] = [];
    let pos = lineEnd + 1;
    while (lineEnd >= 0 && pos < text.length && text[pos] === "\t") {
      const e = text.indexOf("\n", pos);
      lines.push(text.slice(pos + 1, e < 0 ? undefined : e));
      if (e < 0) break;
      pos = e + 1;
    }
    return { id: Number(head[1]), kind: head[2]!, name: head[3]!, attrs, lines };
  };
  const byId = (id: number): RawType | undefined => {
    if (!cache.has(id)) {
      const at = text.startsWith(`[${id}] `) ? 0 : text.indexOf(`\n[${id}] `) + 1;
      cache.set(id, at > 0 || text.startsWith(`[${id}] `) ? blockAt(at) : undefined);
    }
    return cache.get(id);
  };
  const find = (name: string, kinds: string[]): RawType | undefined => {
    for (const kind of kinds) {
      const at = text.indexOf(`] ${kind} '${name}'`);
      if (at < 0) continue;
      const lineStart = text.lastIndexOf("\n", at) + 1;
      return blockAt(lineStart);
    }
    return undefined;
  };
  const sizeOf = (id: number): number => {
    const t = byId(id);
    if (!t) return 0;
    switch (t.kind) {
      case "INT":
      case "ENUM":
      case "ENUM64":
      case "STRUCT":
      case "UNION":
      case "FLOAT":
        return Number(t.attrs.size);
      case "PTR":
        return 8;
      case "ARRAY":
        return Number(t.attrs.nr_elems) * sizeOf(Number(t.attrs.type_id));
      default:
        return sizeOf(Number(t.attrs.type_id));
    }
  };
  const resolve = (id: number): RawType | undefined => {
    let t = byId(id);
    while (t && ["TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"].includes(t.kind))
      t = byId(Number(t.attrs.type_id));
    return t;
  };
  const membersOf = (t: RawType, base: number): BtfMember[] => {
    const out: BtfMember[] = [];
    for (const l of t.lines) {
      const m = /^'([^']*)' type_id=(\d+) bits_offset=(\d+)(?: bitfield_size=(\d+))?/.exec(l);
      if (!m) continue;
      const typeId = Number(m[2]);
      const offset = base + Number(m[3]) / 8;
      const target = resolve(typeId);
      const anonymous = m[1] === "" || m[1] === "(anon)";
      if (anonymous && target && (target.kind === "STRUCT" || target.kind === "UNION")) {
        out.push(...membersOf(target, offset));
        continue;
      }
      if (anonymous) continue; // padding such as `__u64 :64`
      out.push({ name: m[1]!, offset, size: sizeOf(typeId), bitfield: m[4] !== undefined && m[4] !== "0" });
    }
    return out;
  };
  return {
    enumValues(name) {
      const t = find(name, ["ENUM", "ENUM64"]);
      if (!t) return undefined;
      const out = new Map<string, number>();
      for (const l of t.lines) {
        const m = /^'(\w+)' val=(-?\d+)/.exec(l);
        if (m) out.set(m[1]!, Number(m[2]));
      }
      return out;
    },
    members(structName) {
      const t = find(structName, ["STRUCT", "UNION"]);
      return t ? membersOf(t, 0) : undefined;
    },
    typeId(name, kind) {
      return find(name, [kind])?.id;
    },
    structSize(structName) {
      const t = find(structName, ["STRUCT", "UNION"]);
      return t ? Number(t.attrs.size) : undefined;
    },
  };
}

function load(): VmlinuxBtf | string {
  if (!existsSync("/sys/kernel/btf/vmlinux")) return "no /sys/kernel/btf/vmlinux";
  try {
    const text = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"], {
      encoding: "utf8",
      maxBuffer: 1 << 30,
    });
    return parse(text);
  } catch (e) {
    return `bpftool unavailable (${(e as Error).message.split("\n")[0]})`;
  }
}

const loaded = load();
export const vmlinux: VmlinuxBtf | undefined = typeof loaded === "string" ? undefined : loaded;
export const vmlinuxSkipReason: string = typeof loaded === "string" ? loaded : "";
