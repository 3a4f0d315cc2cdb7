/**
 * The keyed operations of a map type that has no keys a program or user space can use (ring
 * buffers, task storage): lookups find nothing, and updates, deletes and iteration answer the
 * errno the kernel's map ops give for that type.
 */
import { EINVAL } from "./errno.js";

export abstract class KeylessMap {
  /** The (negative) errno of update/delete/nextKey/userUpdate: -EINVAL unless the type says otherwise. */
  protected readonly keyedErrno: number = -EINVAL;
  lookup(): bigint {
    return 0n;
  }
  update(): number {
    return this.keyedErrno;
  }
  delete(): number {
    return this.keyedErrno;
  }
  nextKey(): number {
    return this.keyedErrno;
  }
  userLookup(): Uint8Array | undefined {
    return undefined;
  }
  userUpdate(): number {
    return this.keyedErrno;
  }
}
