/**
 * A test-only producer for a live BPF_MAP_TYPE_USER_RINGBUF (what libbpf's user_ring_buffer does,
 * written here from the kernel's mmap layout): page 0 holds consumer_pos (the kernel's, mapped
 * read-only), page 1 producer_pos (ours), then the data area mapped twice. A sample is an 8-byte
 * header (u32 length, u32 zero) and the data, 8-byte aligned; it is published by advancing
 * producer_pos after its bytes are written.
 */
import { type FdLike, fdNumber } from "../../src/loader/fd.js";
import { getSys, MAP_SHARED, type MappedRegion, PROT_READ, PROT_WRITE } from "../../src/loader/sys.js";

export class UserRingProducer {
  private readonly consumer: MappedRegion;
  private readonly producer: MappedRegion;
  private readonly page: number;

  constructor(
    map: FdLike,
    private readonly size: number,
  ) {
    const sys = getSys();
    const fd = fdNumber(map);
    this.page = sys.pageSize();
    const c = sys.mmap(this.page, PROT_READ, MAP_SHARED, fd, 0);
    if (typeof c === "number") throw new Error(`mmap of the consumer page: errno ${-c}`);
    const p = sys.mmap(this.page + 2 * size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, this.page);
    if (typeof p === "number") throw new Error(`mmap of the producer page and data: errno ${-p}`);
    this.consumer = c;
    this.producer = p;
  }

  /** Queue a sample; false when the ring has no room for it. */
  submit(sample: Uint8Array): boolean {
    const cons = new DataView(this.consumer.buffer).getBigUint64(0, true);
    const pv = new DataView(this.producer.buffer);
    const prod = pv.getBigUint64(0, true);
    const total = (sample.length + 8 + 7) & ~7;
    if (BigInt(total) > BigInt(this.size) - (prod - cons)) return false;
    const at = this.page + Number(prod & BigInt(this.size - 1));
    pv.setUint32(at, sample.length, true);
    pv.setUint32(at + 4, 0, true);
    // the data area is mapped twice, so a sample may run past the end of the first mapping
    new Uint8Array(this.producer.buffer, at + 8, sample.length).set(sample);
    pv.setBigUint64(0, prod + BigInt(total), true);
    return true;
  }

  close(): void {
    const sys = getSys();
    sys.munmap(this.producer);
    sys.munmap(this.consumer);
  }
}
