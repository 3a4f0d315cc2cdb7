/**
 * memberOffset on the torture-test object, checked against bpftool's raw listing of the same
 * object (parsed here from the golden text): offsets add up through named and anonymous members.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { btfFromBytes, memberOffset } from "../../src/elf/btf/index.js";
import { BtfError } from "../../src/errors.js";

const SAMPLE = join(import.meta.dirname, "..", "fixtures", "golden", "btf-vmlinux-sample");

interface GoldenMember {
  readonly name: string;
  readonly type: number;
  readonly bits: number;
}

/** id -> [kind, name, members] from bpftool's raw text. */
function goldenStructs(text: string): Map<number, { name: string; members: GoldenMember[] }> {
  const out = new Map<number, { name: string; members: GoldenMember[] }>();
  let current: GoldenMember[] | undefined;
  for (const line of text.split("\n")) {
    const head = /^\[(\d+)\] (STRUCT|UNION) '([^']*)'/.exec(line);
    if (head) {
      current = [];
      out.set(Number(head[1]), { name: head[3], members: current });
      continue;
    }
    const m = /^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)/.exec(line);
    if (m && current) current.push({ name: m[1], type: Number(m[2]), bits: Number(m[3]) });
    else if (!line.startsWith("\t")) current = undefined;
  }
  return out;
}

describe("memberOffset", () => {
  const file = join(SAMPLE, "tricky.el.o");
  const btf = btfFromBytes(new Uint8Array(readFileSync(file)), { file });
  const golden = goldenStructs(readFileSync(join(SAMPLE, "tricky.el.raw.txt"), "utf8"));
  const byName = (name: string): [number, GoldenMember[]] => {
    for (const [id, s] of golden) if (s.name === name) return [id, s.members];
    throw new Error(`no ${name} in golden`);
  };

  it("finds every named member of every struct at bpftool's offset", () => {
    let checked = 0;
    for (const [id, s] of golden) {
      for (const m of s.members) {
        if (m.name === "(anon)") continue;
        expect(memberOffset(btf, id, m.name).bitOffset, `${s.name}.${m.name}`).toBe(m.bits);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it("looks into anonymous members and follows paths", () => {
    const [nestedId, members] = byName("nested");
    const anon = members.find((m) => m.name === "(anon)")!;
    const unionMembers = golden.get(anon.type)!.members;
    const raw = unionMembers.find((m) => m.name === "raw")!;
    expect(memberOffset(btf, nestedId, "raw").bitOffset).toBe(anon.bits + raw.bits);
    const inner = members.find((m) => m.name === "named_inner")!;
    const z = golden.get(inner.type)!.members.find((m) => m.name === "z")!;
    expect(memberOffset(btf, nestedId, "named_inner.z").bitOffset).toBe(inner.bits + z.bits);
    const pt = unionMembers.find((m) => m.name === "pt")!;
    const y = golden.get(pt.type)!.members.find((m) => m.name === "y")!;
    expect(memberOffset(btf, nestedId, "pt.y").bitOffset).toBe(anon.bits + pt.bits + y.bits);
  });

  it("reports bitfields and refuses unknown members", () => {
    const [bitsId, bits] = byName("bits");
    // tricky.c: `unsigned int b: 5;`
    expect(memberOffset(btf, bitsId, "b")).toMatchObject({
      bitOffset: bits.find((m) => m.name === "b")!.bits,
      bitfieldSize: 5,
    });
    expect(() => memberOffset(btf, bitsId, "nope")).toThrow(BtfError);
    expect(() => memberOffset(btf, bitsId, "a.b")).toThrow(BtfError);
  });
});
