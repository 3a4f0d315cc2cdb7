// Every struct layout and enum table the loader writes by hand, checked against the running
// kernel's BTF (bpftool's JSON dump of /sys/kernel/btf/vmlinux), and the errno table against
// koffi's own errno list.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ATTR_LAYOUTS, BPF_ATTR_SIZE, BpfCmd } from "../../src/loader/attr.js";
import { AttachType, LinkType, MapType, ProgType } from "../../src/loader/consts.js";
import { errnoName, knownErrnos } from "../../src/loader/errors.js";
import { INFO_LAYOUTS } from "../../src/loader/info.js";
import type { Field, Layout } from "../../src/loader/layout.js";
import { PERF_LAYOUTS } from "../../src/loader/perf.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";

interface BtfMember {
  name: string;
  type_id: number;
  bits_offset: number;
  bitfield_size?: number;
}
interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  encoding?: string;
  members?: BtfMember[];
  values?: { name: string; val: number }[];
}

function loadBtf(): Map<number, BtfType> | string {
  if (!existsSync(VMLINUX)) return `${VMLINUX} missing`;
  try {
    const out = execFileSync("bpftool", ["-j", "btf", "dump", "file", VMLINUX], {
      maxBuffer: 256 * 1024 * 1024,
    });
    const types = (JSON.parse(out.toString()) as { types: BtfType[] }).types;
    return new Map(types.map((t) => [t.id, t]));
  } catch (e) {
    return `bpftool unavailable: ${(e as Error).message.split("\n")[0]}`;
  }
}

const btf = loadBtf();
if (typeof btf === "string") console.warn(`SKIP BTF layout checks: ${btf}`);
const bit = typeof btf === "string" ? it.skip : it;
const types = typeof btf === "string" ? new Map<number, BtfType>() : btf;

function strip(id: number): BtfType {
  let t = types.get(id)!;
  while (["TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"].includes(t.kind))
    t = types.get(t.type_id!)!;
  return t;
}

function sizeOf(id: number): number {
  const t = strip(id);
  if (t.kind === "PTR") return 8;
  if (t.kind === "ARRAY") return t.nr_elems! * sizeOf(t.type_id!);
  return t.size!;
}

interface Flat {
  offset: number;
  bitOffset: number;
  size: number;
  bits?: number;
  signed: boolean;
}

/** Member path ("test.retval", anonymous levels skipped) to its placement. */
function flatten(id: number, prefix = "", base = 0, out = new Map<string, Flat>()): Map<string, Flat> {
  for (const m of strip(id).members ?? []) {
    const bitPos = base * 8 + m.bits_offset;
    const mt = strip(m.type_id);
    const anon = m.name === "(anon)";
    if ((mt.kind === "STRUCT" || mt.kind === "UNION") && !m.bitfield_size) {
      flatten(m.type_id, anon ? prefix : `${prefix}${m.name}.`, bitPos / 8, out);
    } else {
      out.set(`${prefix}${m.name}`, {
        offset: Math.floor(bitPos / 8),
        bitOffset: bitPos % 8,
        size: m.bitfield_size ? 0 : sizeOf(m.type_id),
        bits: m.bitfield_size,
        signed: mt.kind === "INT" && mt.encoding === "SIGNED",
      });
    }
  }
  return out;
}

function find(kind: string, name: string): BtfType {
  for (const t of types.values()) if (t.kind === kind && t.name === name) return t;
  throw new Error(`${kind} ${name} not in BTF`);
}

function checkLayout(name: string, l: Layout): void {
  const [kw, cname] = l.struct.split(" ");
  const t = find(kw === "union" ? "UNION" : "STRUCT", cname);
  const flat = flatten(t.id);
  expect(l.size, `${name} size`).toBeLessThanOrEqual(t.size!);
  for (const [field, f] of Object.entries<Field>(l.fields)) {
    const path = `${l.prefix}${field}`;
    const b = flat.get(path);
    expect(b, `${l.struct} has no member ${path}`).toBeDefined();
    if (!b) continue;
    if (f.kind === "bit") {
      expect({ path, bits: b.bits, bit: b.offset * 8 + b.bitOffset }).toEqual({
        path,
        bits: 1,
        bit: f.offset * 8 + f.bit!,
      });
      continue;
    }
    expect({ path, offset: f.offset, size: f.size }).toEqual({ path, offset: b.offset, size: b.size });
    if (f.kind === "s32" || f.kind === "u32")
      expect({ path, signed: f.kind === "s32" }).toEqual({ path, signed: b.signed });
  }
}

function enumValues(name: string): Map<string, number> {
  return new Map(find("ENUM", name).values!.map((v) => [v.name, v.val]));
}

function checkEnum(table: Readonly<Record<string, number>>, enumName: string, cPrefix: string): void {
  const kernel = enumValues(enumName);
  for (const [k, v] of Object.entries(table))
    expect({ k, v }).toEqual({ k, v: kernel.get(`${cPrefix}${k}`) });
  // Completeness: every real value of the kernel's enum is in the table.
  for (const [k, v] of kernel) {
    if (k.startsWith("__") || k.endsWith("_DEPRECATED")) continue;
    expect(Object.values(table), `${k} missing`).toContain(v);
  }
}

describe("layouts against vmlinux BTF", () => {
  bit("union bpf_attr is 168 bytes and every command layout matches its members", () => {
    expect(find("UNION", "bpf_attr").size).toBe(BPF_ATTR_SIZE);
    for (const [name, l] of Object.entries(ATTR_LAYOUTS)) checkLayout(name, l);
  });

  bit("bpf_prog_info, bpf_map_info, bpf_btf_info, bpf_link_info", () => {
    for (const [name, l] of Object.entries(INFO_LAYOUTS)) checkLayout(name, l);
    // The info buffers we pass are the whole structs of this kernel.
    expect(INFO_LAYOUTS.PROG_INFO.size).toBe(find("STRUCT", "bpf_prog_info").size);
    expect(INFO_LAYOUTS.MAP_INFO.size).toBe(find("STRUCT", "bpf_map_info").size);
    expect(INFO_LAYOUTS.BTF_INFO.size).toBe(find("STRUCT", "bpf_btf_info").size);
    expect(INFO_LAYOUTS.LINK_INFO.size).toBe(find("STRUCT", "bpf_link_info").size);
  });

  bit("perf_event_attr and perf_event_mmap_page", () => {
    for (const [name, l] of Object.entries(PERF_LAYOUTS)) checkLayout(name, l);
  });

  bit("enum tables: bpf_cmd, map, program, attach and link types", () => {
    const cmds = enumValues("bpf_cmd");
    for (const [k, v] of Object.entries(BpfCmd)) expect({ k, v }).toEqual({ k, v: cmds.get(`BPF_${k}`) });
    checkEnum(MapType, "bpf_map_type", "BPF_MAP_TYPE_");
    checkEnum(ProgType, "bpf_prog_type", "BPF_PROG_TYPE_");
    checkEnum(AttachType, "bpf_attach_type", "BPF_");
    checkEnum(LinkType, "bpf_link_type", "BPF_LINK_TYPE_");
  });
});

describe("errno names", () => {
  it("agree with koffi's errno table wherever both name a number", async () => {
    let koffiErrno: Record<string, number>;
    try {
      koffiErrno = (await import("koffi")).default.os.errno as Record<string, number>;
    } catch {
      console.warn("SKIP errno cross-check: koffi unavailable");
      return;
    }
    let checked = 0;
    for (const [n, name] of knownErrnos()) {
      if (koffiErrno[name] === undefined) continue;
      expect({ name, n }).toEqual({ name, n: koffiErrno[name] });
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
    expect(errnoName(13)).toBe("EACCES");
    expect(errnoName(9999)).toBe("E9999");
  });
});
