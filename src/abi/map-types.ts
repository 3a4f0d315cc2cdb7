/**
 * Map types and the shape rules the kernel enforces at BPF_MAP_CREATE.
 *
 * Ids and names come from the kernel's BTF (kernel-enums.ts). The rules are the facts of each map
 * type's `map_alloc_check` / `map_alloc` / `map_check_btf` in Linux 6.18 (kernel/bpf/{hashtab,
 * arraymap,queue_stack_maps,ringbuf,stackmap,lpm_trie,bloom_filter,local_storage,
 * bpf_local_storage,devmap,cpumap,arena,bpf_struct_ops}.c, net/core/sock_map.c, net/xdp/xskmap.c,
 * kernel/bpf/reuseport_array.c), written as data. Limits that depend on the machine (kmalloc
 * maximum, per-CPU unit size, perf_event_max_stack) are not modelled.
 */
import { KERNEL_MAP_TYPES, type KernelEnumEntry } from "./kernel-enums.js";

/** Allowed byte sizes for a key or value. */
export type SizeRule =
  | { readonly kind: "zero" }
  | { readonly kind: "nonzero" }
  | { readonly kind: "oneOf"; readonly sizes: readonly number[] }
  | { readonly kind: "range"; readonly min: number; readonly max: number }
  /** Non-zero multiple of `of` (stack traces: u64 instruction pointers). */
  | { readonly kind: "multipleOf"; readonly of: number }
  /** Fixed by something else: struct_ops value = the size of the kernel's struct_ops value type. */
  | { readonly kind: "external"; readonly what: string };

/** `max_entries` rules. */
export type EntriesRule =
  | { readonly kind: "nonzero" }
  | { readonly kind: "zero" }
  | { readonly kind: "one" }
  /** Ring buffers: a power of two and a multiple of the page size (the data area in bytes). */
  | { readonly kind: "pagePowerOfTwo" };

export interface MapTypeInfo extends KernelEnumEntry {
  readonly key: SizeRule;
  readonly value: SizeRule;
  readonly maxEntries: EntriesRule;
  /** One value slot per possible CPU: user space reads/writes `round_up(value, 8) * ncpus` bytes. */
  readonly perCpu: boolean;
  /**
   * Whether the map can be created with BTF type ids describing its key and value: the type has no
   * `map_check_no_btf`, and a map without a key needs its own BTF check (syscall.c map_check_btf),
   * which queue and stack lack. Ring buffers and arenas have neither key nor value to describe.
   */
  readonly btfAllowed: boolean;
  /** Creation fails without btf_key_type_id and btf_value_type_id (local storages). */
  readonly btfRequired: boolean;
  /** Values written from user space are file descriptors (programs, maps, perf events, sockets ...). */
  readonly fdValues: boolean;
  /** Map flags that must be set (BPF_F_NO_PREALLOC 1, BPF_F_MMAPABLE 0x400). */
  readonly requiredFlags: number;
  /** Keyless maps are driven by push/pop/peek (queue, stack) or reserve/submit (ring buffers). */
  readonly keyless: boolean;
}

export const BPF_F_NO_PREALLOC = 0x1;
export const BPF_F_MMAPABLE = 0x400;

const nonzero: SizeRule = { kind: "nonzero" };
const zero: SizeRule = { kind: "zero" };
const u32: SizeRule = { kind: "oneOf", sizes: [4] };
const u32OrU64: SizeRule = { kind: "oneOf", sizes: [4, 8] };
const someEntries: EntriesRule = { kind: "nonzero" };

type Rules = Omit<MapTypeInfo, keyof KernelEnumEntry>;

function rules(r: Partial<Rules> & Pick<Rules, "key" | "value">): Rules {
  return {
    maxEntries: someEntries,
    perCpu: false,
    btfAllowed: true,
    btfRequired: false,
    fdValues: false,
    requiredFlags: 0,
    keyless: false,
    ...r,
  };
}

// struct bpf_lpm_trie_key_u8 is a u32 prefix length followed by the data (1..256 bytes).
const LPM_KEY: SizeRule = { kind: "range", min: 4 + 1, max: 4 + 256 };

/** Rules by bpftool map type name. */
const RULES: Readonly<Record<string, Rules>> = {
  unspec: rules({ key: zero, value: zero, btfAllowed: false }),
  hash: rules({ key: nonzero, value: nonzero }),
  array: rules({ key: u32, value: nonzero }),
  prog_array: rules({ key: u32, value: u32, fdValues: true }),
  perf_event_array: rules({ key: u32, value: u32, fdValues: true, btfAllowed: false }),
  percpu_hash: rules({ key: nonzero, value: nonzero, perCpu: true }),
  percpu_array: rules({ key: u32, value: nonzero, perCpu: true }),
  stack_trace: rules({ key: u32, value: { kind: "multipleOf", of: 8 }, btfAllowed: false }),
  cgroup_array: rules({ key: u32, value: u32, fdValues: true, btfAllowed: false }),
  lru_hash: rules({ key: nonzero, value: nonzero }),
  lru_percpu_hash: rules({ key: nonzero, value: nonzero, perCpu: true }),
  lpm_trie: rules({ key: LPM_KEY, value: nonzero, requiredFlags: BPF_F_NO_PREALLOC }),
  array_of_maps: rules({ key: u32, value: u32, fdValues: true, btfAllowed: false }),
  hash_of_maps: rules({ key: nonzero, value: u32, fdValues: true, btfAllowed: false }),
  // value: ifindex (4) or ifindex + program fd (8)
  devmap: rules({ key: u32, value: u32OrU64, fdValues: true, btfAllowed: false }),
  sockmap: rules({ key: u32, value: u32OrU64, fdValues: true, btfAllowed: false }),
  // value: queue size (4) or queue size + program fd (8)
  cpumap: rules({ key: u32, value: u32OrU64, fdValues: true, btfAllowed: false }),
  xskmap: rules({ key: u32, value: u32, fdValues: true, btfAllowed: false }),
  sockhash: rules({
    key: { kind: "range", min: 1, max: 512 },
    value: u32OrU64,
    fdValues: true,
    btfAllowed: false,
  }),
  // key: struct bpf_cgroup_storage_key (16 with padding) or a u64 cgroup inode id
  cgroup_storage: rules({
    key: { kind: "oneOf", sizes: [8, 16] },
    value: nonzero,
    maxEntries: { kind: "zero" },
  }),
  reuseport_sockarray: rules({ key: u32, value: u32OrU64, fdValues: true }),
  percpu_cgroup_storage: rules({
    key: { kind: "oneOf", sizes: [8, 16] },
    value: nonzero,
    maxEntries: { kind: "zero" },
    perCpu: true,
  }),
  queue: rules({ key: zero, value: nonzero, keyless: true, btfAllowed: false }),
  stack: rules({ key: zero, value: nonzero, keyless: true, btfAllowed: false }),
  sk_storage: rules({
    key: u32,
    value: nonzero,
    maxEntries: { kind: "zero" },
    btfRequired: true,
    requiredFlags: BPF_F_NO_PREALLOC,
  }),
  devmap_hash: rules({ key: u32, value: u32OrU64, fdValues: true, btfAllowed: false }),
  struct_ops: rules({
    key: u32,
    value: {
      kind: "external",
      what: "size of the kernel's struct_ops value type (btf_vmlinux_value_type_id)",
    },
    maxEntries: { kind: "one" },
  }),
  ringbuf: rules({
    key: zero,
    value: zero,
    maxEntries: { kind: "pagePowerOfTwo" },
    keyless: true,
    btfAllowed: false,
  }),
  inode_storage: rules({
    key: u32,
    value: nonzero,
    maxEntries: { kind: "zero" },
    btfRequired: true,
    requiredFlags: BPF_F_NO_PREALLOC,
  }),
  task_storage: rules({
    key: u32,
    value: nonzero,
    maxEntries: { kind: "zero" },
    btfRequired: true,
    requiredFlags: BPF_F_NO_PREALLOC,
  }),
  bloom_filter: rules({ key: zero, value: nonzero, keyless: true }),
  user_ringbuf: rules({
    key: zero,
    value: zero,
    maxEntries: { kind: "pagePowerOfTwo" },
    keyless: true,
    btfAllowed: false,
  }),
  cgrp_storage: rules({
    key: u32,
    value: nonzero,
    maxEntries: { kind: "zero" },
    btfRequired: true,
    requiredFlags: BPF_F_NO_PREALLOC,
  }),
  // max_entries is the number of pages of the arena
  arena: rules({ key: zero, value: zero, requiredFlags: BPF_F_MMAPABLE, keyless: true, btfAllowed: false }),
};

export const MAP_TYPES: readonly MapTypeInfo[] = KERNEL_MAP_TYPES.map((e) => {
  const r = RULES[e.name];
  if (!r) throw new Error(`map-types: no rules for kernel map type ${e.kernelName}`);
  return { ...e, ...r };
});

const byId = new Map(MAP_TYPES.map((m) => [m.id, m]));
const byName = new Map<string, MapTypeInfo>([
  ...MAP_TYPES.map((m) => [m.name, m] as const),
  ...MAP_TYPES.map((m) => [m.kernelName, m] as const),
]);

export function mapTypeById(id: number): MapTypeInfo | undefined {
  return byId.get(id);
}
/** By bpftool name (`ringbuf`) or kernel name (`BPF_MAP_TYPE_RINGBUF`). */
export function mapTypeByName(name: string): MapTypeInfo | undefined {
  return byName.get(name);
}

export function sizeAllowed(rule: SizeRule, size: number): boolean {
  switch (rule.kind) {
    case "zero":
      return size === 0;
    case "nonzero":
      return size > 0;
    case "oneOf":
      return rule.sizes.includes(size);
    case "range":
      return size >= rule.min && size <= rule.max;
    case "multipleOf":
      return size > 0 && size % rule.of === 0;
    case "external":
      return size > 0;
  }
}

export function describeSizeRule(rule: SizeRule): string {
  switch (rule.kind) {
    case "zero":
      return "0";
    case "nonzero":
      return "> 0";
    case "oneOf":
      return rule.sizes.join(" or ");
    case "range":
      return `${rule.min}..${rule.max}`;
    case "multipleOf":
      return `a non-zero multiple of ${rule.of}`;
    case "external":
      return rule.what;
  }
}

export function entriesAllowed(rule: EntriesRule, maxEntries: number, pageSize = 4096): boolean {
  switch (rule.kind) {
    case "nonzero":
      return maxEntries > 0;
    case "zero":
      return maxEntries === 0;
    case "one":
      return maxEntries === 1;
    case "pagePowerOfTwo":
      return maxEntries > 0 && (maxEntries & (maxEntries - 1)) === 0 && maxEntries % pageSize === 0;
  }
}

function describeEntries(rule: EntriesRule): string {
  switch (rule.kind) {
    case "nonzero":
      return "> 0";
    case "zero":
      return "0";
    case "one":
      return "1";
    case "pagePowerOfTwo":
      return "a power of 2 and a multiple of the page size";
  }
}

/** What a map definition gives (from BTF `.maps`, a legacy `maps` section, or the API). */
export interface MapShape {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags?: number;
  /** Key and/or value carry BTF type ids. */
  readonly btfKey?: boolean;
  readonly btfValue?: boolean;
}

/**
 * The rules a map definition breaks, as sentences naming the field (empty when the kernel's shape
 * checks would pass). Unknown types give one message.
 */
export function checkMapShape(shape: MapShape, pageSize = 4096): string[] {
  const info = mapTypeById(shape.type);
  if (!info || info.id === 0) return [`unknown map type ${shape.type}`];
  const out: string[] = [];
  if (!sizeAllowed(info.key, shape.keySize))
    out.push(`${info.name}: key_size ${shape.keySize} invalid, must be ${describeSizeRule(info.key)}`);
  if (!sizeAllowed(info.value, shape.valueSize))
    out.push(`${info.name}: value_size ${shape.valueSize} invalid, must be ${describeSizeRule(info.value)}`);
  if (!entriesAllowed(info.maxEntries, shape.maxEntries, pageSize))
    out.push(
      `${info.name}: max_entries ${shape.maxEntries} invalid, must be ${describeEntries(info.maxEntries)}`,
    );
  const flags = shape.flags ?? 0;
  if ((flags & info.requiredFlags) !== info.requiredFlags)
    out.push(
      `${info.name}: map_flags 0x${flags.toString(16)} must include 0x${info.requiredFlags.toString(16)}`,
    );
  const hasBtf = Boolean(shape.btfKey || shape.btfValue);
  if (hasBtf && !info.btfAllowed) out.push(`${info.name}: does not accept BTF key/value types`);
  if (info.btfRequired && !(shape.btfKey && shape.btfValue))
    out.push(`${info.name}: needs BTF key and value types`);
  return out;
}
