// The object model against what libbpf 1.1.2 itself reported for the same objects
// (test/fixtures/capture-libbpf-objects.sh: bpftool -d prog loadall, prog show, map show).
// Every fact compared here comes from libbpf's log or bpftool's output; nothing is hand-written.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { openObject } from "../../src/elf/object/index.js";
import type { MapSpec, ObjectSpec, ProgramSpec } from "../../src/elf/object/types.js";
import { insnWidth, slotOffsets } from "../../src/isa/instruction.js";

const ROOT: string = fileURLToPath(new URL("../..", import.meta.url));
const GOLD = join(ROOT, "test/fixtures/golden/libbpf-objects");
const bases = readdirSync(GOLD)
  .filter((f) => f.endsWith(".json"))
  .map((f) => f.slice(0, -5))
  .sort();

interface ShowGolden {
  readonly object: string;
  readonly programs: readonly {
    name: string;
    type: string;
    bytes_xlated: number;
    funcs?: readonly string[];
    mapRefs?: readonly string[];
    lines?: readonly (readonly [number, number | null, string])[];
  }[];
  readonly maps: readonly {
    name: string;
    type: string;
    bytes_key: number;
    bytes_value: number;
    max_entries: number;
    flags: number;
  }[];
}

const kernelName = (s: string): string => s.slice(0, 15);

/** Linked slot of each instruction index of a program. */
function slotIndex(p: ProgramSpec): Map<number, number> {
  const offs = slotOffsets(p.insns);
  return new Map(offs.map((s, i) => [s, i]));
}

function totalSlots(p: ProgramSpec): number {
  return p.insns.reduce((n, x) => n + insnWidth(x), 0);
}

/** Base slot of a function (the program itself or a linked subprogram) inside a program. */
function functionBase(p: ProgramSpec, fn: string): number | undefined {
  if (p.name === fn) return 0;
  return p.subprogs.find((s) => s.name === fn)?.slot;
}

/** Programs in which function `fn` was placed (the program itself, or those that link it). */
function placements(obj: ObjectSpec, fn: string): { prog: ProgramSpec; base: number }[] {
  return obj.programs.flatMap((p) => {
    const base = functionBase(p, fn);
    return base === undefined ? [] : [{ prog: p, base }];
  });
}

function mapByName(obj: ObjectSpec, name: string): MapSpec | undefined {
  return obj.maps.find((m) => m.name === name);
}

const counts = {
  objects: 0,
  programs: 0,
  maps: 0,
  relocs: 0,
  appends: 0,
  callFixups: 0,
  core: 0,
  externs: 0,
  funcInfo: 0,
  lineInfoExact: 0,
  lineInfoSubseq: 0,
  datasecs: 0,
  mapRefs: 0,
  mapRefsExact: 0,
};

describe.each(bases)("%s against libbpf 1.1.2", (base) => {
  const show = JSON.parse(readFileSync(join(GOLD, `${base}.json`), "utf8")) as ShowGolden;
  const log = readFileSync(join(GOLD, `${base}.log`), "utf8").split("\n");
  let obj: ObjectSpec;

  it("opens", async () => {
    obj = await openObject(join(ROOT, show.object));
    counts.objects++;
  });

  it("finds the programs libbpf finds, at the same offsets and sizes", () => {
    const found = log.flatMap((l) => {
      const m =
        /^libbpf: sec '(.*)': found program '(\w+)' at insn offset (\d+) \(\d+ bytes\), code size (\d+) insns/.exec(
          l,
        );
      return m ? [{ section: m[1]!, name: m[2]!, offset: Number(m[3]), size: Number(m[4]) }] : [];
    });
    expect(found.length).toBeGreaterThan(0);
    const mains = found.filter((f) => f.section !== ".text");
    expect(obj.programs.map((p) => [p.section, p.name])).toEqual(mains.map((f) => [f.section, f.name]));
    for (const f of mains) {
      const p = obj.program(f.name);
      expect(p.mainSlots, f.name).toBe(f.size);
      expect(p.sectionOffset / 8, f.name).toBe(f.offset);
    }
    // .text functions: wherever one is linked, its size is libbpf's.
    for (const f of found.filter((x) => x.section === ".text")) {
      for (const p of obj.programs) {
        const i = p.subprogs.findIndex((s) => s.name === f.name);
        if (i < 0) continue;
        const end = p.subprogs[i + 1]?.slot ?? totalSlots(p);
        expect(end - p.subprogs[i]!.slot, `${p.name}/${f.name}`).toBe(f.size);
      }
    }
    counts.programs += mains.length;
  });

  it("reads the license", () => {
    const m = log.map((l) => /^libbpf: license of .* is (.*)$/.exec(l)).find(Boolean);
    expect(obj.license).toBe(m?.[1]);
  });

  it("defines maps as libbpf does (order, type, key/value type ids and sizes, max_entries, flags)", () => {
    const order: string[] = [];
    const defs = new Map<string, Record<string, number | boolean>>();
    const def = (n: string): Record<string, number | boolean> => {
      const d = defs.get(n) ?? {};
      defs.set(n, d);
      return d;
    };
    for (const l of log) {
      let m = /^libbpf: map '(.+)': at sec_idx \d+, offset \d+\.$/.exec(l);
      if (m) order.push(m[1]!);
      m = /^libbpf: map '(.+)' \(global data\): at sec_idx \d+, offset \d+, flags ([0-9a-f]+)\.$/.exec(l);
      if (m) {
        order.push(m[1]!);
        def(m[1]!).flags = Number.parseInt(m[2]!, 16);
      }
      m = /^libbpf: map '(.+)': found type = (\d+)\.$/.exec(l);
      if (m) def(m[1]!).type = Number(m[2]);
      m = /^libbpf: map '(.+)': found (key|value) \[(\d+)\], sz = (\d+)\.$/.exec(l);
      if (m) {
        def(m[1]!)[`${m[2]}Id`] = Number(m[3]);
        def(m[1]!)[`${m[2]}Size`] = Number(m[4]);
      }
      m =
        /^libbpf: map '(.+)': found (max_entries|map_flags|numa_node|pinning|key_size|value_size) = (\d+)\.$/.exec(
          l,
        );
      if (m) def(m[1]!)[m[2]!] = Number(m[3]);
      m = /^libbpf: map '(.+)': found inner map definition\.$/.exec(l);
      if (m) def(m[1]!).inner = true;
    }
    expect(obj.maps.map((m) => m.name)).toEqual(order);
    for (const [name, d] of defs) {
      const inner = name.endsWith(".inner");
      const m = inner ? mapByName(obj, name.slice(0, -6))?.inner : mapByName(obj, name);
      expect(m, name).toBeDefined();
      if (d.type !== undefined) expect(m!.type, `${name} type`).toBe(d.type);
      if (d.keyId !== undefined)
        expect([m!.btfKeyTypeId, m!.keySize], `${name} key`).toEqual([d.keyId, d.keySize]);
      if (d.valueId !== undefined)
        expect([m!.btfValueTypeId, m!.valueSize], `${name} value`).toEqual([d.valueId, d.valueSize]);
      if (d.max_entries !== undefined) expect(m!.maxEntries, `${name} max_entries`).toBe(d.max_entries);
      if (d.map_flags !== undefined) expect(m!.flags, `${name} map_flags`).toBe(d.map_flags);
      if (d.flags !== undefined) expect(m!.flags, `${name} flags`).toBe(d.flags);
      if (d.inner) expect(m!.inner, `${name} inner`).toBeDefined();
    }
    // Initial map-in-map / prog-array slots.
    for (const l of log) {
      const m = /^libbpf: \.maps relo #\d+: map '(.+)' slot \[(\d+)\] points to (?:map|prog) '(.+)'$/.exec(l);
      if (!m) continue;
      expect(mapByName(obj, m[1]!)?.initSlots, l).toContainEqual({ index: Number(m[2]), name: m[3] });
    }
    counts.maps += order.length;
  });

  it("matches bpftool's map show (name, type, key/value size, max_entries, flags)", () => {
    const ours = obj.maps
      .map((m) => ({
        name: kernelName(m.name),
        type: m.typeName,
        bytes_key: m.keySize,
        bytes_value: m.valueSize,
        max_entries: m.maxEntries,
        flags: m.flags,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
    // A perf_event_array without max_entries is sized by libbpf to the possible CPUs at load
    // time (the capture machine's count); the spec keeps the ELF's 0 for the loader to fill.
    const theirs = show.maps.map((m, i) =>
      m.type === "perf_event_array" && ours[i]?.max_entries === 0 && m.max_entries > 0
        ? { ...m, max_entries: 0 }
        : m,
    );
    expect(ours).toEqual(theirs);
  });

  it("matches bpftool's prog show (name, type)", () => {
    const ours = obj.programs
      .filter((p) => p.autoload)
      // bpftool prints the full name from func_info BTF when the kernel's copy is truncated.
      .map((p) => ({ name: obj.btfExt ? p.name : kernelName(p.name), type: p.type.name }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(ours).toEqual(show.programs.map((p) => ({ name: p.name, type: p.type })));
  });

  it("links func_info and line_info in the order the kernel received them", () => {
    for (const g of show.programs) {
      if (!g.funcs || !g.lines) continue;
      const p = obj.programs.find((x) => x.name === g.name || kernelName(x.name) === g.name);
      expect(p, g.name).toBeDefined();
      const names = p!.funcInfo.map((f) => obj.btf!.typeById(f.typeId).name);
      expect(names.length, g.name).toBe(g.funcs.length);
      for (const [i, proto] of g.funcs.entries()) expect(proto, g.name).toContain(` ${names[i]}(`);
      counts.funcInfo++;
      // The kernel drops the records of dead code it removes, so its list is a subsequence of ours.
      const ours = p!.lineInfo.map((l) => `${l.line}:${l.column}:${l.text.trim()}`);
      const theirs = g.lines.map(([line, col, src]) => `${line}:${col ?? 0}:${src}`);
      let j = 0;
      for (const t of theirs) {
        while (j < ours.length && ours[j] !== t) j++;
        expect(j < ours.length, `${g.name}: kernel line_info ${t} not found in order`).toBe(true);
        j++;
      }
      if (ours.length === theirs.length) {
        expect(ours).toEqual(theirs);
        counts.lineInfoExact++;
      } else counts.lineInfoSubseq++;
    }
  });

  it("references maps and map values (with offsets) where the kernel's program does", () => {
    for (const g of show.programs) {
      if (!g.mapRefs) continue;
      const p = obj.programs.find((x) => x.name === g.name || kernelName(x.name) === g.name)!;
      // A kconfig extern is loaded as the address of its slot in the .kconfig map.
      const kconfig = obj.maps.find((m) => m.origin === "kconfig");
      const ours = p.insns.flatMap((i) => {
        const r = i.ref;
        if (r?.kind === "map") return [`map[${kernelName(r.map)}]`];
        if (r?.kind === "mapValue") return [`map[${kernelName(r.map)}][0]+${r.offset}`];
        const e = r?.kind === "extern" ? obj.externs.find((x) => x.name === r.symbol) : undefined;
        if (e?.kind === "kconfig") return [`map[${kernelName(kconfig!.name)}][0]+${e.offset}`];
        return [];
      });
      // The kernel removes dead code (e.g. behind frozen .rodata), so its list is a subsequence.
      let j = 0;
      for (const t of g.mapRefs) {
        while (j < ours.length && ours[j] !== t) j++;
        expect(j < ours.length, `${g.name}: kernel ${t} not found in order in ${ours.join(" ")}`).toBe(true);
        j++;
      }
      if (ours.length === g.mapRefs.length) counts.mapRefsExact++;
      counts.mapRefs += g.mapRefs.length;
    }
  });

  it("fixes DATASEC sizes and offsets as libbpf did for the kernel", () => {
    const file = join(GOLD, `${base}.datasec.txt`);
    if (!existsSync(file)) return;
    const secs: { name: string; size: number; vars: { name: string; offset: number }[] }[] = [];
    for (const l of readFileSync(file, "utf8").split("\n")) {
      const h = /^\[\d+\] DATASEC '(.+)' size=(\d+) vlen=\d+$/.exec(l);
      if (h) secs.push({ name: h[1]!, size: Number(h[2]), vars: [] });
      const v = /^\ttype_id=\d+ offset=(\d+) size=\d+ \(VAR '(.+)'\)$/.exec(l);
      if (v) secs.at(-1)!.vars.push({ name: v[2]!, offset: Number(v[1]) });
    }
    // .ksyms is rewritten by libbpf for the kernel (kfuncs become dummy variables): the loader's job.
    for (const g of secs.filter((x) => x.name !== ".ksyms")) {
      const f = obj.datasecFixups.find((x) => x.name === g.name);
      expect(f, g.name).toBeDefined();
      expect({ size: f!.size, vars: f!.vars.map(({ name, offset }) => ({ name, offset })) }, g.name).toEqual({
        size: g.size,
        vars: g.vars,
      });
      counts.datasecs++;
    }
  });

  it("lays out externs as libbpf does", () => {
    const ext = log.flatMap((l) => {
      const m = /^libbpf: extern \((kcfg|ksym)\) #(\d+): symbol \d+, (?:off (\d+), )?name (\w+)$/.exec(l);
      return m
        ? [{ kind: m[1] === "kcfg" ? "kconfig" : "ksym", index: Number(m[2]), offset: m[3], name: m[4]! }]
        : [];
    });
    expect(obj.externs.map((e) => e.name)).toEqual(ext.map((e) => e.name));
    for (const e of ext) {
      const ours = obj.externs[e.index]!;
      expect(ours.kind).toBe(e.kind);
      if (e.offset !== undefined) expect(ours.offset, e.name).toBe(Number(e.offset));
    }
    counts.externs += ext.length;
  });

  it("resolves each relocation to the map, data map or extern libbpf picked", () => {
    let n = 0;
    for (const l of log) {
      const m =
        /^libbpf: prog '(\w+)': found (map|data map) \d+ \((.+), sec \d+, off \d+\) for insn #?(\d+)$/.exec(
          l,
        ) ?? /^libbpf: prog '(\w+)': found (extern) #\d+ '(\w+)' \(sym \d+\) for insn #(\d+)$/.exec(l);
      if (!m) continue;
      const [, fn, what, target, insnNo] = m;
      for (const { prog, base } of placements(obj, fn!)) {
        const idx = slotIndex(prog).get(base + Number(insnNo));
        expect(idx, `${prog.name}: ${l}`).toBeDefined();
        const ref = prog.insns[idx!]!.ref;
        if (what === "map") expect(ref, l).toEqual({ kind: "map", map: target });
        else if (what === "data map") expect(ref && ref.kind === "mapValue" && ref.map, l).toBe(target);
        else expect(ref, l).toEqual({ kind: "extern", symbol: target });
        n++;
      }
    }
    counts.relocs += n;
  });

  it("links subprograms in libbpf's order with libbpf's call offsets", () => {
    let current: ProgramSpec | undefined;
    const added = new Map<string, { name: string; size: number }[]>();
    for (const l of log) {
      let m = /^libbpf: prog '(\w+)': added (\d+) insns from sub-prog '(\w+)'$/.exec(l);
      if (m) {
        current = obj.program(m[1]!);
        const list = added.get(m[1]!) ?? [];
        list.push({ name: m[3]!, size: Number(m[2]) });
        added.set(m[1]!, list);
        counts.appends++;
        continue;
      }
      m =
        /^libbpf: prog '(\w+)': insn #(\d+) relocated, imm (-?\d+) points to subprog '(\w+)' \(now at (\d+) offset\)$/.exec(
          l,
        );
      if (!m) continue;
      const [, fn, insnNo, imm, sub, at] = m;
      const isMain = obj.programs.some((p) => p.name === fn);
      if (isMain) current = obj.program(fn!);
      expect(current, l).toBeDefined();
      const base = functionBase(current!, fn!);
      expect(base, l).toBeDefined();
      const idx = slotIndex(current!).get(base! + Number(insnNo));
      const insn = current!.insns[idx!]!;
      expect(insn.imm, `${current!.name}: ${l}`).toBe(Number(imm));
      expect(insn.ref, l).toEqual({ kind: "subprog", symbol: sub });
      expect(functionBase(current!, sub!), l).toBe(Number(at));
      counts.callFixups++;
    }
    for (const p of obj.programs) {
      const list = added.get(p.name) ?? [];
      expect(
        p.subprogs.map((s) => s.name),
        p.name,
      ).toEqual(list.map((a) => a.name));
      const total =
        slotOffsets(p.insns).length && p.insns.reduce((n, x) => n + (x.opcode === 0x18 ? 2 : 1), 0);
      expect(total, `${p.name} linked size`).toBe(p.mainSlots + list.reduce((n, a) => n + a.size, 0));
    }
  });

  it("carries the CO-RE records libbpf applies, at the instructions it patches", () => {
    for (const l of log) {
      const m = /^libbpf: sec '(.+)': found (\d+) CO-RE relocations$/.exec(l);
      if (m) expect(obj.btfExt?.coreRelosFor(m[1]!).length, l).toBe(Number(m[2]));
    }
    const patched = new Map<string, number>();
    for (const l of log) {
      const m = /^libbpf: prog '(\w+)': relo #(\d+): patched insn #(\d+) /.exec(l);
      if (m) patched.set(`${m[1]}#${m[2]}`, Number(m[3]));
    }
    for (const l of log) {
      const m =
        /^libbpf: prog '(\w+)': relo #(\d+): <(\w+)> \[(\d+)\] .*\((\d[\d:]*) @ offset \d+\)$/.exec(l) ??
        /^libbpf: prog '(\w+)': relo #(\d+): <(\w+)> \[(\d+)\] [^(]*()$/.exec(l);
      if (!m) continue;
      const [, fn, no, kind, typeId, access] = m;
      const mains = placements(obj, fn!);
      expect(mains.length, l).toBeGreaterThan(0);
      // libbpf numbers records within their section; the record names the function's section.
      const { prog: first } = mains[0]!;
      const section = first.name === fn ? first.section : first.subprogs.find((s) => s.name === fn)!.section;
      const rec = obj.btfExt!.coreRelosFor(section)[Number(no)];
      expect(rec, l).toBeDefined();
      expect([rec!.kind, rec!.typeId], l).toEqual([kind, Number(typeId)]);
      if (access) expect(rec!.access, l).toBe(access);
      const at = patched.get(`${fn}#${no}`);
      for (const { prog, base } of mains) {
        const ours = prog.coreRelos.filter(
          (r) =>
            r.function === fn && r.typeId === rec!.typeId && r.access === rec!.access && r.kind === rec!.kind,
        );
        const rel = ours.map((r) => r.slot - base);
        if (at !== undefined) expect(rel, `${prog.name}: ${l}`).toContain(at);
        for (const r of ours) expect(slotIndex(prog).get(r.slot), l).toBe(r.insn);
      }
      counts.core++;
    }
  });
});

describe("golden comparison totals", () => {
  it("compared something in every category", () => {
    // Printed for the report; each category must have been exercised by the fixtures.
    console.log(`libbpf golden comparison: ${JSON.stringify(counts)}`);
    expect(counts.objects).toBe(bases.length);
    for (const [k, v] of Object.entries(counts)) expect(v, k).toBeGreaterThan(0);
  });
});
