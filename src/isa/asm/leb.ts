/** LEB128, the variable-length integers of DWARF (and of .uleb128/.sleb128). */
/** ULEB128 / SLEB128 encoding of a value. */
export function lebBytes(value: bigint, signed: boolean): number[] {
  const out: number[] = [];
  let v = value;
  if (!signed && v < 0n) v = BigInt.asUintN(64, v);
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = signed ? (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0) : v === 0n;
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}
