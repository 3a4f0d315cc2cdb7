/** Small pieces the helper families share. */
import type { VmHelperCall } from "../env.js";
import { VmFault } from "../errors.js";
import type { SimMap } from "../maps/types.js";
import type { MemorySegment, Runtime } from "./runtime.js";

/** The map an argument points to, or a fault naming the helper (the verifier guarantees a map). */
export function mapArg(
  rt: Pick<Runtime, "memory" | "mapByRegion">,
  call: VmHelperCall,
  n: 1 | 2 | 3 | 4 | 5,
  helper: string,
): SimMap {
  // by halves: the hot path of every map helper, without building a BigInt
  const region = call.argLo(n) === 0 ? rt.memory.regionOf(call.argHi(n) | 0) : undefined;
  const m = region ? rt.mapByRegion(region.id) : undefined;
  if (m === undefined) throw call.fault(`${helper}: argument ${n} is not a map pointer`);
  return m;
}

/** Read `len` bytes at `address` as the kernel's *_nofault copies do: VM memory, else the image. */
export function readUnsafe(
  rt: Runtime,
  image: readonly MemorySegment[],
  address: bigint,
  len: number,
): Uint8Array | undefined {
  if (len === 0) return new Uint8Array(0);
  try {
    return rt.memory.slice(address, len).slice();
  } catch (e) {
    if (!(e instanceof VmFault)) throw e;
  }
  const a = BigInt.asUintN(64, address);
  for (const s of image) {
    if (a >= s.address && a + BigInt(len) <= s.address + BigInt(s.bytes.length)) {
      const off = Number(a - s.address);
      return s.bytes.slice(off, off + len);
    }
  }
  return undefined;
}

/**
 * strncpy_from_*_nofault: up to `max` bytes including the NUL. Returns the bytes copied
 * (NUL included) or undefined when the first byte cannot be read. A string that does not end
 * within max - 1 bytes is cut there.
 */
export function readUnsafeString(
  rt: Runtime,
  image: readonly MemorySegment[],
  address: bigint,
  max: number,
): Uint8Array | undefined {
  const out: number[] = [];
  for (let i = 0; i < max - 1; i++) {
    const b = readUnsafe(rt, image, address + BigInt(i), 1);
    if (b === undefined) return undefined; // a fault anywhere fails the whole copy
    if (b[0] === 0) break;
    out.push(b[0]);
  }
  out.push(0);
  return Uint8Array.from(out);
}

export function le64(bytes: Uint8Array, off: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(off, true);
}

/**
 * The `len` bytes an argument points to, found by the pointer's halves (the map helpers' hot
 * path); anything unusual goes through Memory.slice, which faults as it should.
 */
export function argBytes(call: VmHelperCall, n: 1 | 2 | 3 | 4 | 5, len: number, write = false): Uint8Array {
  const r = call.memory.regionOf(call.argHi(n) | 0);
  const lo = call.argLo(n);
  if (
    r === undefined ||
    r.hooks !== null ||
    lo < r.start ||
    lo + len > r.end ||
    (write && !r.writable) ||
    len <= 0
  ) {
    return call.memory.slice(call.arg(n), len, write);
  }
  if (write && lo < r.low) r.low = lo; // a stack written here is re-zeroed before the next run
  return r.bytes.subarray(lo, lo + len);
}
