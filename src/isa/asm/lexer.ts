/**
 * Tokens of LLVM's BPF assembly syntax. A statement is lexed on its own (the caller has already
 * split lines, comments and `;` separators), and every token keeps its 1-based column so errors
 * point at the offending operand.
 */
import { AsmError } from "../../errors.js";

export type Token =
  | { readonly kind: "ident"; readonly text: string; readonly col: number }
  | { readonly kind: "num"; readonly value: bigint; readonly text: string; readonly col: number }
  | { readonly kind: "str"; readonly bytes: readonly number[]; readonly text: string; readonly col: number }
  | { readonly kind: "op"; readonly text: string; readonly col: number };

/** Where a statement came from, for errors. */
export interface SourcePos {
  readonly file?: string;
  readonly line: number;
}

export function asmError(code: string, message: string, pos: SourcePos, col?: number): AsmError {
  return new AsmError(code, message, { line: pos.line, column: col, file: pos.file });
}

// Longest first: the lexer takes the first operator that matches at the current position.
const OPERATORS: readonly string[] = [
  "s>>=",
  "<<=",
  ">>=",
  "s/=",
  "s%=",
  "s>=",
  "s<=",
  "+=",
  "-=",
  "*=",
  "/=",
  "%=",
  "|=",
  "&=",
  "^=",
  "==",
  "!=",
  ">=",
  "<=",
  "<<",
  ">>",
  "s>",
  "s<",
  "=",
  ">",
  "<",
  "+",
  "-",
  "*",
  "/",
  "%",
  "&",
  "|",
  "^",
  "~",
  "!",
  "(",
  ")",
  "[",
  "]",
  ",",
  ":",
  "@",
];

const IDENT_START = /[A-Za-z_.$]/;
const IDENT_CHAR = /[A-Za-z0-9_.$]/;

const ESCAPES: Readonly<Record<string, number>> = {
  n: 10,
  t: 9,
  r: 13,
  b: 8,
  f: 12,
  v: 11,
  a: 7,
  e: 27,
  "\\": 92,
  '"': 34,
  "'": 39,
  "?": 63,
};

/** Decode a quoted string starting at text[start] === '"'; returns its bytes and the end index. */
export function readQuoted(
  text: string,
  start: number,
  pos: SourcePos,
  colBase = 1,
): { bytes: number[]; end: number } {
  const bytes: number[] = [];
  let i = start + 1;
  while (i < text.length && text[i] !== '"') {
    const c = text[i];
    if (c === "\\") {
      const n = text[i + 1];
      if (n === undefined) break;
      if (/[0-7]/.test(n)) {
        let j = i + 1;
        let v = 0;
        while (j < text.length && j < i + 4 && /[0-7]/.test(text[j])) v = v * 8 + Number(text[j++]);
        bytes.push(v & 0xff);
        i = j;
        continue;
      }
      if (n === "x" || n === "X") {
        let j = i + 2;
        let v = 0;
        while (j < text.length && /[0-9a-fA-F]/.test(text[j])) v = v * 16 + Number.parseInt(text[j++], 16);
        bytes.push(v & 0xff);
        i = j;
        continue;
      }
      const e = ESCAPES[n];
      if (e === undefined)
        throw asmError("E_ASM_STRING", `unknown escape '\\${n}' in string`, pos, colBase + i);
      bytes.push(e);
      i += 2;
      continue;
    }
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x80) bytes.push(code);
    else for (const b of new TextEncoder().encode(String.fromCodePoint(code))) bytes.push(b);
    i += code > 0xffff ? 2 : 1;
  }
  if (text[i] !== '"') throw asmError("E_ASM_STRING", "unterminated string", pos, colBase + start);
  return { bytes, end: i + 1 };
}

function parseNumber(text: string): bigint | undefined {
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) return BigInt(text);
  if (/^0[bB][01]+$/.test(text)) return BigInt(text);
  if (/^0[0-7]+$/.test(text)) return BigInt(`0o${text.slice(1)}`);
  if (/^[0-9]+$/.test(text)) return BigInt(text);
  return undefined;
}

/** Lex one statement. `colBase` is the column of text[0] in the source line. */
export function lex(text: string, pos: SourcePos, colBase = 1): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\v") {
      i++;
      continue;
    }
    const col = colBase + i;
    if (/[0-9]/.test(c)) {
      let j = i;
      while (j < text.length && /[0-9A-Za-z_]/.test(text[j])) j++;
      const word = text.slice(i, j);
      if (/^[0-9]+[bf]$/.test(word)) {
        // `1b` / `1f`: the nearest numeric label `1:` backward / forward.
        out.push({ kind: "ident", text: word, col });
        i = j;
        continue;
      }
      const value = parseNumber(word);
      if (value === undefined) {
        const hint = /^[0-9]+ll$/i.test(word)
          ? ` (write '${word.slice(0, -2)} ll' with a space for a 64-bit load)`
          : "";
        throw asmError("E_ASM_NUMBER", `invalid number '${word}'${hint}`, pos, col);
      }
      out.push({ kind: "num", value, text: word, col });
      i = j;
      continue;
    }
    if (c === "'") {
      // Character literal: 'a' or '\n'.
      let value: number;
      let j: number;
      if (text[i + 1] === "\\") {
        const e = ESCAPES[text[i + 2] ?? ""];
        if (e === undefined) throw asmError("E_ASM_NUMBER", "invalid character literal", pos, col);
        value = e;
        j = i + 3;
      } else {
        value = text.codePointAt(i + 1) ?? 0;
        j = i + 2;
      }
      if (text[j] !== "'") throw asmError("E_ASM_NUMBER", "unterminated character literal", pos, col);
      out.push({ kind: "num", value: BigInt(value), text: text.slice(i, j + 1), col });
      i = j + 1;
      continue;
    }
    if (c === '"') {
      const { bytes, end } = readQuoted(text, i, pos, colBase);
      out.push({ kind: "str", bytes, text: text.slice(i, end), col });
      i = end;
      continue;
    }
    // `s>`, `s/=`... are operators only when `s` stands alone (not the end of an identifier).
    if (c === "s" && /[<>/%]/.test(text[i + 1] ?? "")) {
      const op = OPERATORS.find((o) => o.startsWith("s") && text.startsWith(o, i));
      if (op) {
        out.push({ kind: "op", text: op, col });
        i += op.length;
        continue;
      }
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < text.length && IDENT_CHAR.test(text[j])) j++;
      out.push({ kind: "ident", text: text.slice(i, j), col });
      i = j;
      continue;
    }
    const op = OPERATORS.find((o) => !o.startsWith("s") && text.startsWith(o, i));
    if (op) {
      out.push({ kind: "op", text: op, col });
      i += op.length;
      continue;
    }
    throw asmError("E_ASM_TOKEN", `unexpected character '${c}'`, pos, col);
  }
  return out;
}
