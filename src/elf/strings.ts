/** NUL-terminated strings out of an ELF string table (a view of its section bytes). */

const utf8 = new TextDecoder("utf-8");

/**
 * The string at `offset` in `table`, or undefined when the offset is past the table or the string
 * runs off its end without a NUL. Offset 0 of an empty table is the empty string (ELF reserves
 * index 0 for it).
 */
export function stringAt(table: Uint8Array, offset: number): string | undefined {
  if (offset === 0 && table.length === 0) return "";
  if (offset < 0 || offset >= table.length) return undefined;
  const end = table.indexOf(0, offset);
  if (end < 0) return undefined;
  // Names are almost always ASCII; building them by char codes is several times faster than
  // TextDecoder for the short strings of a symbol table.
  let s = "";
  for (let i = offset; i < end; i++) {
    const c = table[i];
    if (c >= 0x80) return utf8.decode(table.subarray(offset, end));
    s += String.fromCharCode(c);
  }
  return s;
}
