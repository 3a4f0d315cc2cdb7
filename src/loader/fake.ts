/**
 * An in-memory Sys for unit tests of the layers above the syscall layer (object model, attach
 * logic): no kernel, no koffi, no root. It understands enough of bpf() to be useful (map create
 * and element commands with hash/array semantics, program load, info for maps, close), records
 * every call, and lets a test override any command to script failures or verifier logs.
 */
import { BpfCmd, MAP_CREATE, MAP_ELEM, OBJ_GET_INFO_BY_FD, PROG_LOAD } from "./attr.js";
import { MAP_INFO } from "./info.js";
import { encodeStruct, type Field, readField, readNumber } from "./layout.js";
import type { EpollEvent, MappedRegion, Sys } from "./sys.js";

const ENOENT = 2;
const EBADF = 9;
const E2BIG = 7;
const EEXIST = 17;
const EINVAL = 22;
const ENOSYS = 38;

export interface FakeMap {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly name: string;
  readonly id: number;
  /** Entries by key bytes joined with ",". */
  readonly entries: Map<string, Uint8Array>;
}

export interface FakeProgram {
  readonly type: number;
  readonly insns: Uint8Array;
  readonly license: string;
  readonly name: string;
  readonly expectedAttachType: number;
  readonly id: number;
}

/** What a command handler sees: the attr bytes and a way to follow pointer fields. */
export interface FakeCall {
  readonly cmd: number;
  readonly attr: Uint8Array;
  /** The buffer a pointer field of `attr` points at (as registered through `address`). */
  deref(field: Field): Uint8Array | undefined;
}

export interface FakeSys extends Sys {
  /** Every bpf() call in order: command number and attr size. */
  readonly calls: Array<{ readonly cmd: number; readonly size: number }>;
  readonly maps: Map<number, FakeMap>;
  readonly programs: Map<number, FakeProgram>;
  /** fds closed, in order (double closes would show twice). */
  readonly closed: number[];
  /** Replace the handling of one command; return a result or -errno. */
  on(cmd: number, handler: (call: FakeCall) => number): void;
}

const ARRAY_TYPES = new Set([2, 6]); // ARRAY, PERCPU_ARRAY
const keyOf = (b: Uint8Array): string => b.join(",");
const decoder = new TextDecoder();
const text = (b: Uint8Array | undefined): string => {
  if (!b) return "";
  const end = b.indexOf(0);
  return decoder.decode(end < 0 ? b : b.subarray(0, end));
};

export function createFakeSys(o: { readonly pageSize?: number } = {}): FakeSys {
  const memory = new Map<bigint, Uint8Array>();
  let nextAddress = 0x10000n;
  let nextFd = 100;
  let nextId = 1;
  const handlers = new Map<number, (call: FakeCall) => number>();
  const maps = new Map<number, FakeMap>();
  const programs = new Map<number, FakeProgram>();
  const calls: Array<{ cmd: number; size: number }> = [];
  const closed: number[] = [];

  const makeCall = (cmd: number, attr: Uint8Array): FakeCall => ({
    cmd,
    attr,
    deref(field) {
      return memory.get(readField(attr, field) as bigint);
    },
  });

  const elem = (c: FakeCall): number => {
    const f = MAP_ELEM.fields;
    const m = maps.get(readNumber(c.attr, f.map_fd));
    if (!m) return -EBADF;
    const keyBuf =
      c.cmd === BpfCmd.MAP_GET_NEXT_KEY && readField(c.attr, f.key) === 0n ? undefined : c.deref(f.key);
    const key = keyBuf ? keyBuf.slice(0, m.keySize) : undefined;
    const isArray = ARRAY_TYPES.has(m.type);
    const index = key && key.byteLength >= 4 ? new DataView(key.buffer).getUint32(0, true) : 0;
    switch (c.cmd) {
      case BpfCmd.MAP_LOOKUP_ELEM: {
        if (!key) return -EINVAL;
        if (isArray && index >= m.maxEntries) return -ENOENT;
        const v = m.entries.get(keyOf(key)) ?? (isArray ? new Uint8Array(m.valueSize) : undefined);
        if (!v) return -ENOENT;
        c.deref(f.value)?.set(v);
        return 0;
      }
      case BpfCmd.MAP_UPDATE_ELEM: {
        if (!key) return -EINVAL;
        if (isArray && index >= m.maxEntries) return -E2BIG;
        const flags = Number(readField(c.attr, f.flags));
        const exists = m.entries.has(keyOf(key)) || isArray;
        if (flags === 1 && exists) return -EEXIST;
        if (flags === 2 && !exists) return -ENOENT;
        if (!exists && m.entries.size >= m.maxEntries) return -E2BIG;
        const value = c.deref(f.value);
        if (!value) return -EINVAL;
        m.entries.set(keyOf(key), value.slice(0, m.valueSize));
        return 0;
      }
      case BpfCmd.MAP_DELETE_ELEM:
        if (!key) return -EINVAL;
        if (isArray) return -EINVAL;
        return m.entries.delete(keyOf(key)) ? 0 : -ENOENT;
      case BpfCmd.MAP_GET_NEXT_KEY: {
        const keys = isArray
          ? Array.from({ length: m.maxEntries }, (_, i) => {
              const k = new Uint8Array(m.keySize);
              new DataView(k.buffer).setUint32(0, i, true);
              return k;
            })
          : [...m.entries.keys()].map((k) => Uint8Array.from(k.split(",").map(Number)));
        const at = key ? keys.findIndex((k) => keyOf(k) === keyOf(key)) : -1;
        const next = keys[at + 1];
        if (!next) return -ENOENT;
        c.deref(f.next_key)?.set(next);
        return 0;
      }
    }
    return -EINVAL;
  };

  const defaults = new Map<number, (c: FakeCall) => number>([
    [
      BpfCmd.MAP_CREATE,
      (c) => {
        const f = MAP_CREATE.fields;
        const fd = nextFd++;
        maps.set(fd, {
          type: readNumber(c.attr, f.map_type),
          keySize: readNumber(c.attr, f.key_size),
          valueSize: readNumber(c.attr, f.value_size),
          maxEntries: readNumber(c.attr, f.max_entries),
          flags: readNumber(c.attr, f.map_flags),
          name: text(readField(c.attr, f.map_name) as Uint8Array),
          id: nextId++,
          entries: new Map(),
        });
        return fd;
      },
    ],
    [BpfCmd.MAP_LOOKUP_ELEM, elem],
    [BpfCmd.MAP_UPDATE_ELEM, elem],
    [BpfCmd.MAP_DELETE_ELEM, elem],
    [BpfCmd.MAP_GET_NEXT_KEY, elem],
    [
      BpfCmd.PROG_LOAD,
      (c) => {
        const f = PROG_LOAD.fields;
        const n = readNumber(c.attr, f.insn_cnt);
        const insns = c.deref(f.insns);
        if (!insns || n === 0) return -EINVAL;
        const fd = nextFd++;
        programs.set(fd, {
          type: readNumber(c.attr, f.prog_type),
          insns: insns.slice(0, n * 8),
          license: text(c.deref(f.license)),
          name: text(readField(c.attr, f.prog_name) as Uint8Array),
          expectedAttachType: readNumber(c.attr, f.expected_attach_type),
          id: nextId++,
        });
        return fd;
      },
    ],
    [
      BpfCmd.OBJ_GET_INFO_BY_FD,
      (c) => {
        const f = OBJ_GET_INFO_BY_FD.fields;
        const m = maps.get(readNumber(c.attr, f.bpf_fd));
        const out = c.deref(f.info);
        if (!m || !out) return -EINVAL;
        const info = encodeStruct(
          MAP_INFO,
          {
            type: m.type,
            id: m.id,
            key_size: m.keySize,
            value_size: m.valueSize,
            max_entries: m.maxEntries,
            map_flags: m.flags,
            name: m.name,
          },
          () => 0n,
        );
        out.set(info.subarray(0, Math.min(out.byteLength, info.byteLength)));
        return 0;
      },
    ],
  ]);

  const sys: FakeSys = {
    calls,
    maps,
    programs,
    closed,
    on(cmd, handler) {
      handlers.set(cmd, handler);
    },
    bpf(cmd, attr) {
      calls.push({ cmd, size: attr.byteLength });
      const h = handlers.get(cmd) ?? defaults.get(cmd);
      try {
        return h ? h(makeCall(cmd, attr)) : -EINVAL;
      } finally {
        // Addresses live for one call (the wrappers register right before calling).
        memory.clear();
      }
    },
    address(buf) {
      const a = nextAddress;
      // Leave room so addresses never overlap, whatever the buffer size.
      nextAddress += BigInt(Math.max(buf.byteLength, 1) + 0x1000);
      memory.set(a, buf);
      return a;
    },
    close(fd) {
      closed.push(fd);
      maps.delete(fd);
      programs.delete(fd);
      return 0;
    },
    perfEventOpen: () => -ENOSYS,
    ioctl: () => -ENOSYS,
    mmap: (): MappedRegion | number => -ENOSYS,
    munmap: () => 0,
    epollCreate: () => nextFd++,
    epollCtl: () => 0,
    epollWait: (): EpollEvent[] => [],
    epollWaitAsync: async (): Promise<EpollEvent[]> => [],
    socket: () => -ENOSYS,
    setsockopt: () => -ENOSYS,
    pageSize: () => o.pageSize ?? 4096,
  };
  return sys;
}
