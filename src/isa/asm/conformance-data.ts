/**
 * Reader of the bpf_conformance `.data` test files: `-- <section>` headers followed by the
 * section's lines. Shared by the assembler's conformance tests and the VM's conformance runner.
 * Unknown section names are refused (the suite's own runner skips such a file as malformed);
 * the sections the suite carries for documentation (`-- c`, `-- no register offset`) are ignored.
 */
import { AsmError } from "../../errors.js";

export interface ConformanceData {
  /** The `-- asm` section verbatim (comments included), lines joined with "\n". */
  readonly asm?: string;
  /** 1-based line number in the file of the first line of `asm` (to map assembler errors back). */
  readonly asmLine?: number;
  /** The `-- raw` section as instruction bytes (little-endian, 8 per instruction). */
  readonly raw?: Uint8Array;
  /** The `-- mem` section: the input memory. */
  readonly mem?: Uint8Array;
  /** The `-- result` section: the expected r0, unsigned 64-bit. */
  readonly result?: bigint;
  /** The `-- error` section: expected failure text ("" when the section is present but empty). */
  readonly error?: string;
}

const IGNORED_SECTIONS: ReadonlySet<string> = new Set(["c", "no register offset"]);
const KNOWN_SECTIONS: ReadonlySet<string> = new Set(["asm", "raw", "mem", "result", "error"]);

interface Section {
  readonly name: string;
  readonly line: number;
  readonly lines: Array<{ text: string; line: number }>;
}

/** Parse the text of one `.data` file. Throws AsmError naming the line on malformed content. */
export function parseConformanceData(text: string, opts: { file?: string } = {}): ConformanceData {
  const file = opts.file;
  const sections: Section[] = [];
  let current: Section | undefined;
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const lineNo = i + 1;
    if (line.trimStart().startsWith("--")) {
      const name = line.trim().slice(2).trim();
      if (!KNOWN_SECTIONS.has(name) && !IGNORED_SECTIONS.has(name)) {
        throw new AsmError("E_DATA_SECTION", `unknown section directive '-- ${name}'`, {
          line: lineNo,
          file,
        });
      }
      if (sections.some((s) => s.name === name)) {
        throw new AsmError("E_DATA_SECTION", `duplicate section '-- ${name}'`, { line: lineNo, file });
      }
      current = { name, line: lineNo, lines: [] };
      sections.push(current);
      return;
    }
    current?.lines.push({ text: line, line: lineNo });
  });

  const out: {
    asm?: string;
    asmLine?: number;
    raw?: Uint8Array;
    mem?: Uint8Array;
    result?: bigint;
    error?: string;
  } = {};
  for (const s of sections) {
    switch (s.name) {
      case "asm": {
        // Trailing blank lines are not part of the program.
        const body = [...s.lines];
        while (body.length > 0 && body[body.length - 1].text.trim() === "") body.pop();
        out.asm = body.map((l) => l.text).join("\n");
        out.asmLine = s.line + 1;
        break;
      }
      case "raw":
        out.raw = parseRaw(s, file);
        break;
      case "mem":
        out.mem = parseHexBytes(s, file);
        break;
      case "result":
        out.result = parseResult(s, file);
        break;
      case "error":
        out.error = dataLines(s)
          .map((l) => l.text.trim())
          .join("\n");
        break;
      default:
        break;
    }
  }
  return out;
}

/** The non-blank, non-comment lines of a data section. */
function dataLines(s: Section): Array<{ text: string; line: number }> {
  return s.lines.filter((l) => {
    const t = l.text.trim();
    return t !== "" && !t.startsWith("#");
  });
}

function tokens(s: Section): Array<{ tok: string; line: number }> {
  const out: Array<{ tok: string; line: number }> = [];
  for (const l of dataLines(s)) {
    for (const tok of l.text.split(/[\s,]+/)) if (tok !== "") out.push({ tok, line: l.line });
  }
  return out;
}

function parseHexBytes(s: Section, file: string | undefined): Uint8Array {
  const bytes: number[] = [];
  for (const { tok, line } of tokens(s)) {
    const t = tok.toLowerCase().startsWith("0x") ? tok.slice(2) : tok;
    if (!/^[0-9a-fA-F]{1,2}$/.test(t)) {
      throw new AsmError("E_DATA_BYTE", `-- ${s.name}: '${tok}' is not a hex byte`, { line, file });
    }
    bytes.push(Number.parseInt(t, 16));
  }
  return Uint8Array.from(bytes);
}

/**
 * `-- raw` holds either hex bytes (`07 00 01 00 ...`) or 64-bit words (`0x5566778800000018`,
 * one instruction each, little-endian in memory as the suite's runner reads them).
 */
function parseRaw(s: Section, file: string | undefined): Uint8Array {
  const bytes: number[] = [];
  for (const { tok, line } of tokens(s)) {
    // As the suite's runner reads them: a 0x token is a whole instruction, others are bytes.
    if (/^0[xX][0-9a-fA-F]{1,16}$/.test(tok)) {
      if (bytes.length % 8 !== 0) {
        throw new AsmError("E_DATA_RAW", `-- raw: 64-bit word '${tok}' does not start an instruction`, {
          line,
          file,
        });
      }
      let v = BigInt(tok);
      for (let k = 0; k < 8; k++) {
        bytes.push(Number(v & 0xffn));
        v >>= 8n;
      }
    } else if (/^[0-9a-fA-F]{1,2}$/.test(tok)) {
      bytes.push(Number.parseInt(tok, 16));
    } else {
      throw new AsmError("E_DATA_RAW", `-- raw: '${tok}' is neither a hex byte nor a 64-bit word`, {
        line,
        file,
      });
    }
  }
  if (bytes.length % 8 !== 0) {
    throw new AsmError("E_DATA_RAW", `-- raw: ${bytes.length} bytes is not a whole number of instructions`, {
      line: s.line,
      file,
    });
  }
  return Uint8Array.from(bytes);
}

function parseResult(s: Section, file: string | undefined): bigint | undefined {
  const ls = dataLines(s);
  if (ls.length === 0) return undefined;
  const last = ls[ls.length - 1];
  const t = last.text.trim();
  let v: bigint;
  if (/^-?0[xX][0-9a-fA-F]+$/.test(t) || /^-?[0-9]+$/.test(t)) {
    const neg = t.startsWith("-");
    v = BigInt(neg ? t.slice(1) : t);
    if (neg) v = -v;
  } else {
    throw new AsmError("E_DATA_RESULT", `-- result: '${t}' is not a number`, { line: last.line, file });
  }
  return BigInt.asUintN(64, v);
}
