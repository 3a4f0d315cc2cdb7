/**
 * Internet checksum arithmetic as the kernel does it on x86-64: 32-bit one's complement sums
 * (end-around carry) over little-endian words, folded to 16 bits at the end. Values are the
 * registers' native (little-endian) views of the network-order bytes, as in the kernel.
 */

export function csumAdd(a: number, b: number): number {
  const s = (a >>> 0) + (b >>> 0);
  return (s > 0xffffffff ? s - 0xffffffff : s) >>> 0;
}

export function csumSub(a: number, b: number): number {
  return csumAdd(a, ~b >>> 0);
}

/** csum_from32to16: to 16 bits with end-around carry, not complemented. */
export function fold16(c: number): number {
  let s = ((c >>> 0) & 0xffff) + ((c >>> 0) >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s & 0xffff;
}

/** csum_fold: to 16 bits, complemented. */
export function csumFold(c: number): number {
  let s = ((c >>> 0) & 0xffff) + ((c >>> 0) >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** csum_partial(buf, len, seed): x86-64 adds the buffer as little-endian words with end-around carry. */
export function csumPartial(buf: Uint8Array, seed: number): number {
  let sum = seed >>> 0;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) sum = csumAdd(sum, v.getUint32(i, true));
  if (i + 2 <= buf.length) {
    sum = csumAdd(sum, v.getUint16(i, true));
    i += 2;
  }
  if (i < buf.length) sum = csumAdd(sum, buf[i]);
  return sum;
}

/** csum_replace4 on a 16-bit checksum field value: returns the new field value. */
export function csumReplace4(sum16: number, from: number, to: number): number {
  const tmp = csumSub(~sum16 >>> 0, from);
  return csumFold(csumAdd(tmp, to));
}

/** csum_replace2 (16-bit one's complement arithmetic). */
export function csumReplace2(sum16: number, from: number, to: number): number {
  const add16 = (c: number, a: number): number => {
    let r = (c & 0xffff) + (a & 0xffff);
    if (r > 0xffff) r = (r & 0xffff) + 1;
    return r & 0xffff;
  };
  return ~add16(add16(~sum16 & 0xffff, ~from & 0xffff), to) & 0xffff;
}

/** csum_replace_by_diff. */
export function csumReplaceByDiff(sum16: number, diff: number): number {
  return csumFold(csumAdd(diff, ~sum16 >>> 0));
}
