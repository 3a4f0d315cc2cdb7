/**
 * Differential test against bpftool on random BTF: random type graphs of every kind (shared
 * names to force `___N` renames, odd member offsets to exercise padding and packing, bitfields,
 * anonymous types, typedef special cases, declarations of non-types) are dumped by both, raw
 * and C, and must match byte for byte. References only go to lower ids, except pointers to
 * named structs and unions, so every graph is one C can express.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { dumpBtfC, dumpBtfRaw, parseBtf } from "../../src/elf/btf/index.js";
import { BtfError } from "../../src/errors.js";
import { BtfBuilder, info, KIND } from "./btf-builder.js";
import { firstDifference } from "./diff.js";

function hasBpftool(): boolean {
  try {
    execFileSync("bpftool", ["version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}
const BPFTOOL = hasBpftool();
if (!BPFTOOL) console.warn("BTF differential tests skipped: bpftool is not installed");

const NAMES = ["a", "b", "s", "__builtin_va_list", "__gnuc_va_list", "__Poly8_t", "x"];
const INT_NAMES = ["int", "char", "long int", "unsigned int", "__Poly8_t", "_Bool", "short"];

/** One type as random choices; `ref`s are fractions later mapped to valid ids. */
interface Spec {
  readonly kind: number;
  readonly name: number; // -1: anonymous
  readonly size: number;
  readonly refs: readonly number[];
  readonly nums: readonly number[];
  readonly flag: boolean;
  readonly fwdRef: boolean;
}

const spec: fc.Arbitrary<Spec> = fc.record({
  kind: fc.constantFrom(
    KIND.INT,
    KIND.INT,
    KIND.PTR,
    KIND.PTR,
    KIND.ARRAY,
    KIND.STRUCT,
    KIND.STRUCT,
    KIND.UNION,
    KIND.ENUM,
    KIND.FWD,
    KIND.TYPEDEF,
    KIND.TYPEDEF,
    KIND.VOLATILE,
    KIND.CONST,
    KIND.RESTRICT,
    KIND.FUNC,
    KIND.FUNC_PROTO,
    KIND.VAR,
    KIND.DATASEC,
    KIND.FLOAT,
    KIND.DECL_TAG,
    KIND.TYPE_TAG,
    KIND.ENUM64,
  ),
  name: fc.integer({ min: -1, max: NAMES.length - 1 }),
  size: fc.constantFrom(0, 1, 2, 4, 8, 12, 16, 24, 3, 5),
  refs: fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), {
    minLength: 1,
    maxLength: 4,
  }),
  nums: fc.array(fc.integer({ min: -200, max: 300 }), { minLength: 4, maxLength: 4 }),
  flag: fc.boolean(),
  fwdRef: fc.boolean(),
});

function build(specs: readonly Spec[]): Uint8Array {
  const b = new BtfBuilder();
  // Ids of named structs/unions: the only forward references allowed (through pointers).
  const namedComposite: number[] = [];
  specs.forEach((s, i) => {
    if ((s.kind === KIND.STRUCT || s.kind === KIND.UNION) && s.name >= 0) namedComposite.push(i + 1);
  });
  specs.forEach((s, i) => {
    const id = i + 1;
    const name = s.name >= 0 ? NAMES[s.name] : "";
    const lower = (f: number): number => Math.floor(f * id); // 0 .. id-1
    const nameOff = b.str(name);
    const [n0, n1, n2, n3] = s.nums;
    switch (s.kind) {
      case KIND.INT: {
        const iname = INT_NAMES[Math.abs(n0) % INT_NAMES.length];
        const size = [1, 2, 4, 8, 16][Math.abs(n1) % 5];
        b.raw(b.str(iname), info(KIND.INT), size, ((Math.abs(n2) % 3) << 24) | (size * 8));
        break;
      }
      case KIND.PTR: {
        const target =
          s.fwdRef && namedComposite.length > 0
            ? namedComposite[Math.abs(n0) % namedComposite.length]
            : lower(s.refs[0]);
        b.raw(0, info(KIND.PTR), target);
        break;
      }
      case KIND.ARRAY:
        b.raw(0, info(KIND.ARRAY), 0, lower(s.refs[0]), lower(s.refs[1] ?? 0), Math.abs(n0) % 5);
        break;
      case KIND.STRUCT:
      case KIND.UNION: {
        const words: number[] = [];
        let off = 0;
        for (let m = 0; m < s.refs.length; m++) {
          const bits = s.flag ? Math.abs(s.nums[m]) % 9 : 0;
          off += Math.abs(s.nums[(m + 1) % 4]) % 3 === 0 ? 8 * (Math.abs(s.nums[m]) % 9) : bits;
          words.push(b.str(["f", "g", "h", "k"][m]), lower(s.refs[m]), s.flag ? (bits << 24) | off : off);
          off += s.kind === KIND.STRUCT ? 32 : 0;
        }
        b.raw(nameOff, info(s.kind, s.refs.length, s.flag), s.size * 4, ...words);
        break;
      }
      case KIND.ENUM: {
        // Sometimes no values at all: an enum forward declaration.
        const vals = s.flag && n1 < 0 ? [] : s.nums.slice(0, 1 + (Math.abs(n3) % 3));
        const words = vals.flatMap((v, k) => [b.str(NAMES[(k + Math.abs(n0)) % NAMES.length]), v >>> 0]);
        b.raw(nameOff, info(KIND.ENUM, vals.length, s.flag), [1, 2, 4, 8][Math.abs(n2) % 4], ...words);
        break;
      }
      case KIND.ENUM64: {
        const vals = s.nums.slice(0, 1 + (Math.abs(n3) % 3));
        const words = vals.flatMap((v, k) => [
          b.str(NAMES[(k + 1) % NAMES.length]),
          v >>> 0,
          k === 1 ? 7 : 0,
        ]);
        b.raw(nameOff, info(KIND.ENUM64, vals.length, s.flag), [4, 8][Math.abs(n2) % 2], ...words);
        break;
      }
      case KIND.FWD:
        b.raw(nameOff === 0 ? b.str("x") : nameOff, info(KIND.FWD, 0, s.flag), 0);
        break;
      case KIND.TYPEDEF:
        b.raw(nameOff === 0 ? b.str("t") : nameOff, info(KIND.TYPEDEF), lower(s.refs[0]));
        break;
      case KIND.VOLATILE:
      case KIND.CONST:
      case KIND.RESTRICT:
        b.raw(0, info(s.kind), lower(s.refs[0]));
        break;
      case KIND.TYPE_TAG:
        b.raw(b.str("tag"), info(KIND.TYPE_TAG), lower(s.refs[0]));
        break;
      case KIND.FUNC_PROTO: {
        const params = s.refs.slice(1);
        const words = params.flatMap((f, k) => [
          b.str(k === 0 ? "p" : ""),
          k === params.length - 1 && s.flag ? 0 : lower(f),
        ]);
        b.raw(0, info(KIND.FUNC_PROTO, params.length), lower(s.refs[0]), ...words);
        break;
      }
      case KIND.FUNC:
        b.raw(b.str("fn"), info(KIND.FUNC, Math.abs(n0) % 3), lower(s.refs[0]));
        break;
      case KIND.VAR:
        b.raw(b.str("v"), info(KIND.VAR), lower(s.refs[0]), Math.abs(n0) % 3);
        break;
      case KIND.DATASEC:
        b.raw(b.str(".data"), info(KIND.DATASEC, 1), 8, lower(s.refs[0]), 0, 4);
        break;
      case KIND.FLOAT:
        b.raw(b.str("double"), info(KIND.FLOAT), 8);
        break;
      case KIND.DECL_TAG:
        b.raw(b.str("dt"), info(KIND.DECL_TAG), lower(s.refs[0]), n0 < 0 ? 0xffffffff : 0);
        break;
    }
  });
  return b.bytes();
}

const dir = mkdtempSync(join(tmpdir(), "tsbpf-btf-diff-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bpftool(path: string, format: "raw" | "c"): string | undefined {
  try {
    return execFileSync("bpftool", ["btf", "dump", "file", path, "format", format], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 10_000,
    });
  } catch {
    return undefined; // libbpf refused (e.g. an unsatisfiable cycle): nothing to compare
  }
}

describe.skipIf(!BPFTOOL)("random BTF: dumps match bpftool", () => {
  it("raw and C", () => {
    let compared = 0;
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 14 }), (specs) => {
        const bytes = build(specs);
        const path = join(dir, "r.btf");
        writeFileSync(path, bytes);
        const btf = parseBtf(bytes);
        const raw = bpftool(path, "raw");
        if (raw !== undefined) expect(firstDifference(raw, dumpBtfRaw(btf))).toBeUndefined();
        const c = bpftool(path, "c");
        if (c !== undefined) {
          expect(firstDifference(c, dumpBtfC(btf))).toBeUndefined();
          compared++;
        }
      }),
      { numRuns: Number(process.env.BTF_DIFF_RUNS ?? 150) },
    );
    expect(compared).toBeGreaterThan(50);
  }, 300_000);
});

/**
 * Any reference may point anywhere, so graphs have cycles C cannot express (libbpf then fails,
 * crashes or loops; bpftool gets 2 s). Where bpftool succeeds, we must print the same; where it
 * does not, we may only fail with BtfError; and we always finish.
 */
function cyclicGraph(rand: (n: number) => number): Uint8Array {
  const kinds = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8, 8, 9, 10, 11, 13, 18, 19];
  const names = ["a", "b", "s", ""];
  const n = 1 + rand(8);
  const b = new BtfBuilder();
  const ref = (): number => rand(n + 1);
  for (let i = 1; i <= n; i++) {
    const k = kinds[rand(kinds.length)];
    const nm = b.str(names[rand(names.length)]);
    switch (k) {
      case KIND.INT:
        b.raw(b.str("int"), info(KIND.INT), 4, (1 << 24) | 32);
        break;
      case KIND.ARRAY:
        b.raw(0, info(KIND.ARRAY), 0, ref(), ref(), rand(4));
        break;
      case KIND.STRUCT:
      case KIND.UNION: {
        const v = rand(3);
        const w: number[] = [];
        for (let m = 0; m < v; m++) w.push(b.str(`f${m}`), ref(), m * 32);
        b.raw(nm, info(k, v), v * 4 + rand(8), ...w);
        break;
      }
      case KIND.ENUM:
        b.raw(nm, info(KIND.ENUM, 1), 4, b.str(`E${rand(3)}`), rand(9));
        break;
      case KIND.FWD:
        b.raw(b.str("fw"), info(KIND.FWD, 0, rand(2) === 1), 0);
        break;
      case KIND.TYPEDEF:
        b.raw(nm || b.str("t"), info(KIND.TYPEDEF), ref());
        break;
      case KIND.FUNC_PROTO: {
        const v = rand(3);
        const w: number[] = [];
        for (let m = 0; m < v; m++) w.push(b.str("p"), ref());
        b.raw(0, info(KIND.FUNC_PROTO, v), ref(), ...w);
        break;
      }
      case KIND.TYPE_TAG:
        b.raw(b.str("tag"), info(KIND.TYPE_TAG), ref());
        break;
      case KIND.ENUM64:
        b.raw(nm, info(KIND.ENUM64, 1), 8, b.str("F"), rand(9), rand(2));
        break;
      default:
        b.raw(0, info(k), ref());
    }
  }
  return b.bytes();
}

describe.skipIf(!BPFTOOL)("random cyclic BTF: where bpftool succeeds, the C dump matches", () => {
  it("seeded graphs", () => {
    let state = 7;
    const rand = (n: number): number => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state % n;
    };
    let compared = 0;
    const path = join(dir, "cyclic.btf");
    for (let iter = 0; iter < Number(process.env.BTF_CYCLIC_RUNS ?? 200); iter++) {
      const bytes = cyclicGraph(rand);
      writeFileSync(path, bytes);
      const theirs = spawnSync("bpftool", ["btf", "dump", "file", path, "format", "c"], {
        encoding: "utf8",
        timeout: 2000,
      });
      let ours: string | undefined;
      try {
        ours = dumpBtfC(parseBtf(bytes));
      } catch (e) {
        if (!(e instanceof BtfError)) throw e;
      }
      if (theirs.status === 0 && theirs.signal === null) {
        expect(
          ours === undefined ? "threw BtfError" : firstDifference(theirs.stdout, ours),
          `graph ${iter}`,
        ).toBeUndefined();
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100);
  }, 300_000);
});
