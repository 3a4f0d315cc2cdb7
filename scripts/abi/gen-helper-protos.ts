/**
 * Generates src/abi/helper-protos.ts: the argument and return types of every helper prototype
 * (`struct bpf_func_proto`) of a kernel source tree, and which `*_func_proto` functions hand out
 * each prototype for each BPF_FUNC_* id.
 *
 * It reads facts (field values) out of the kernel's C sources and writes them in our own shape; no
 * kernel code is carried over. The output is committed; re-run only to move to another kernel:
 *   npx tsx scripts/abi/gen-helper-protos.ts <linux-source-dir> [<version label>]
 * <linux-source-dir> is a kernel source tree (at least kernel/, net/, include/, drivers/). The
 * committed table was made from a linux-6.18.y tree (6.18.19), matching the 6.18 kernel here.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = process.argv[2];
if (!root) {
  console.error("usage: gen-helper-protos.ts <linux-source-dir> [<version label>]");
  process.exit(2);
}
const label = process.argv[3] ?? "unknown";

/** Files that define prototypes or get_func_proto switches (found with grep bpf_func_proto). */
function cFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      // Selftests and samples define test-only prototypes and get_func_proto functions.
      if (dir === root && ["tools", "samples", "Documentation"].includes(name)) continue;
      out.push(...cFiles(p));
    } else if (name.endsWith(".c")) {
      const text = readFileSync(p, "utf8");
      if (text.includes("bpf_func_proto")) out.push(p);
    }
  }
  return out.sort();
}

/** Comments and preprocessor lines would confuse the brace matching. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ");
}

function matchBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

// Sizes of the types that appear in `.argN_size = sizeof(...)` (x86_64; checked against vmlinux BTF
// in test/abi/helpers.test.ts).
const SIZEOF: Record<string, number> = {
  u64: 8,
  s64: 8,
  u32: 4,
  "struct tcphdr": 20,
  "struct iphdr": 20,
  "struct ipv6hdr": 40,
};

interface Proto {
  symbol: string;
  file: string;
  gplOnly: boolean;
  pktAccess: boolean;
  mightSleep: boolean;
  allowFastcall: boolean;
  ret: string[];
  args: string[][];
  argSizes: (number | null)[];
  argBtfIds: (string | null)[];
  retBtfId: string | null;
  allowed: string | null;
}

function flagList(expr: string): string[] {
  return expr
    .split("|")
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseProto(symbol: string, file: string, body: string): Proto {
  const fields = new Map<string, string>();
  for (const m of body.matchAll(/\.(\w+)\s*=\s*([^,]+?)\s*,?\s*(?=\n|$)/g)) fields.set(m[1]!, m[2]!.trim());
  const args: string[][] = [];
  const argSizes: (number | null)[] = [];
  const argBtfIds: (string | null)[] = [];
  for (let i = 1; i <= 5; i++) {
    const t = fields.get(`arg${i}_type`);
    if (!t) break;
    args.push(flagList(t));
    const size = fields.get(`arg${i}_size`);
    if (size) {
      const m = /^sizeof\((.+)\)$/.exec(size);
      const n = m ? SIZEOF[m[1]!.trim()] : undefined;
      if (n === undefined) throw new Error(`${symbol}: unknown size expression ${size}`);
      argSizes.push(n);
    } else argSizes.push(null);
    const btf = fields.get(`arg${i}_btf_id`);
    argBtfIds.push(btf ? btf.replace(/^&/, "") : null);
  }
  const bool = (k: string): boolean => fields.get(k) === "true";
  return {
    symbol,
    file,
    gplOnly: bool("gpl_only"),
    pktAccess: bool("pkt_access"),
    mightSleep: bool("might_sleep"),
    allowFastcall: bool("allow_fastcall"),
    ret: flagList(fields.get("ret_type") ?? "RET_INTEGER"),
    args,
    argSizes,
    argBtfIds,
    retBtfId: fields.get("ret_btf_id")?.replace(/^&/, "") ?? null,
    allowed: fields.get("allowed") ?? null,
  };
}

const protos = new Map<string, Proto>();
/** helper (BPF_FUNC_ suffix) -> provider function -> proto symbols it may return. */
const uses = new Map<string, Map<string, Set<string>>>();
/** functions like bpf_get_trace_printk_proto() that just return one proto. */
const getters = new Map<string, string>();
/** provider -> other providers it asks before its own switch (`first`) and in `default:` (`after`). */
const fallbacks = new Map<string, { first: Set<string>; after: Set<string> }>();
/** case BPF_FUNC_<h> in <fn> returns whatever <callee>(func_id) returns. */
const delegations: { h: string; fn: string; callee: string }[] = [];
function fallbackOf(fn: string): { first: Set<string>; after: Set<string> } {
  if (!fallbacks.has(fn)) fallbacks.set(fn, { first: new Set(), after: new Set() });
  return fallbacks.get(fn)!;
}

const files = cFiles(root);
const sources = files.map((f) => ({ file: relative(root, f), text: stripComments(readFileSync(f, "utf8")) }));

for (const { file, text } of sources) {
  for (const m of text.matchAll(/struct bpf_func_proto\s+(\w+)\s*=\s*\{/g)) {
    const open = m.index! + m[0].length - 1;
    const body = text.slice(open + 1, matchBrace(text, open));
    if (!protos.has(m[1]!)) protos.set(m[1]!, parseProto(m[1]!, file, body));
  }
  for (const m of text.matchAll(
    /const struct bpf_func_proto\s*\*\s*(?:__weak\s+)?(\w+)\s*\(void\)\s*\{([^}]*)\}/g,
  )) {
    const ret = /return\s+&(\w+)\s*;/.exec(m[2]!);
    if (ret && !m[0].includes("__weak")) getters.set(m[1]!, ret[1]!);
  }
}

for (const { text } of sources) {
  for (const m of text.matchAll(
    /const struct bpf_func_proto\s*\*\s*(?:__weak\s+)?\n?\s*(\w+)\s*\(([^)]*)\)\s*\{/g,
  )) {
    const fn = m[1]!;
    if (!/enum bpf_func_id/.test(m[2]!)) continue;
    const open = m.index! + m[0].length - 1;
    const body = text.slice(open, matchBrace(text, open) + 1);
    // Split the body at the outer switch's labels (kernel style puts them one tab in; nested
    // switches on the attach type sit deeper); a statement run belongs to the labels above it.
    const parts = body.split(/\n\t(case\s+BPF_FUNC_\w+\s*:|default\s*:)/);
    let pending: string[] = [];
    // Calls before the switch (`func_proto = cgroup_common_func_proto(...); if (func_proto) return ...`).
    for (const r of parts[0]!.matchAll(/\b(\w+_func_proto)\s*\(/g))
      if (r[1] !== fn) fallbackOf(fn).first.add(r[1]!);
    for (const part of parts.slice(1)) {
      const label = /^case\s+BPF_FUNC_(\w+)\s*:$/.exec(part);
      if (label) {
        pending.push(label[1]!);
        continue;
      }
      if (/^default\s*:$/.test(part)) {
        pending = ["<default>"];
        continue;
      }
      if (pending.length === 0) continue;
      const targets = new Set<string>();
      for (const r of part.matchAll(/&(\w+_proto\w*)\b/g)) if (protos.has(r[1]!)) targets.add(r[1]!);
      for (const r of part.matchAll(/\b(\w+)\s*\(\s*\)/g)) {
        const g = getters.get(r[1]!);
        if (g) targets.add(g);
      }
      const called = [...part.matchAll(/\b(\w+_func_proto)\s*\(/g)].map((r) => r[1]!);
      for (const h of pending) {
        if (h === "<default>") {
          for (const c of called) if (c !== fn) fallbackOf(fn).after.add(c);
          continue;
        }
        if (targets.size === 0) {
          // `return bpf_get_skb_set_tunnel_proto(func_id);`: a helper-specific switch elsewhere.
          for (const c of part.matchAll(/\b(\w+)\s*\(\s*func_id\s*\)/g))
            delegations.push({ h, fn, callee: c[1]! });
          continue;
        }
        if (!uses.has(h)) uses.set(h, new Map());
        const byFn = uses.get(h)!;
        if (!byFn.has(fn)) byFn.set(fn, new Set());
        for (const t of targets) byFn.get(fn)!.add(t);
      }
      if (/\breturn\b|\bbreak\b/.test(part)) pending = [];
    }
  }
}

for (const { h, fn, callee } of delegations) {
  const target = uses.get(h)?.get(callee);
  if (!target) continue;
  if (!uses.get(h)!.has(fn)) uses.get(h)!.set(fn, new Set());
  for (const t of target) uses.get(h)!.get(fn)!.add(t);
}

/** BPF_PROG_TYPE_X -> its verifier ops' get_func_proto function (include/linux/bpf_types.h + *_verifier_ops). */
const progTypeProvider = new Map<string, string>();
{
  const typesH = stripComments(readFileSync(join(root, "include/linux/bpf_types.h"), "utf8"));
  const opsFn = new Map<string, string>();
  for (const { text } of sources) {
    for (const m of text.matchAll(/struct bpf_verifier_ops\s+(\w+)\s*=\s*\{([^}]*)\}/g)) {
      const f = /\.get_func_proto\s*=\s*(\w+)/.exec(m[2]!);
      if (f) opsFn.set(m[1]!, f[1]!);
    }
  }
  for (const m of typesH.matchAll(/BPF_PROG_TYPE\((BPF_PROG_TYPE_\w+),\s*(\w+),/g)) {
    const fn = opsFn.get(`${m[2]}_verifier_ops`);
    if (fn) progTypeProvider.set(m[1]!, fn);
  }
}

/**
 * BTF id table entries (`btf_sock_ids[BTF_SOCK_TYPE_TCP]`, `bpf_d_path_btf_ids[0]`) -> the kernel
 * type they name, from BTF_ID_LIST* declarations and the BTF_SOCK_TYPE / BTF_TRACING_TYPE lists.
 */
const btfIdTypes = new Map<string, string>();
{
  const allText = [
    ...sources.map((x) => x.text),
    stripComments(readFileSync(join(root, "kernel/bpf/cgroup_iter.c"), "utf8")),
  ];
  for (const text of allText) {
    for (const m of text.matchAll(/BTF_ID_LIST(?:_GLOBAL)?_SINGLE\((\w+),\s*(\w+),\s*(\w+)\)/g))
      btfIdTypes.set(`${m[1]}[0]`, `${m[2]} ${m[3]}`);
    for (const m of text.matchAll(/BTF_ID_LIST\((\w+)\)\s*((?:BTF_ID\(\w+,\s*\w+\)\s*)+)/g)) {
      [...m[2]!.matchAll(/BTF_ID\((\w+),\s*(\w+)\)/g)].forEach((e, i) => {
        btfIdTypes.set(`${m[1]}[${i}]`, `${e[1]} ${e[2]}`);
      });
    }
  }
  const ids = readFileSync(join(root, "include/linux/btf_ids.h"), "utf8");
  for (const m of ids.matchAll(/BTF_SOCK_TYPE\((BTF_SOCK_TYPE_\w+),\s*(\w+)\)/g))
    btfIdTypes.set(`btf_sock_ids[${m[1]}]`, `struct ${m[2]}`);
  for (const m of ids.matchAll(/BTF_TRACING_TYPE\((BTF_TRACING_TYPE_\w+),\s*(\w+)\)/g))
    btfIdTypes.set(`btf_tracing_ids[${m[1]}]`, `struct ${m[2]}`);
  // bpf_tcp_ca.c looks this one up by name at init.
  btfIdTypes.set("tcp_sock_id", "struct tcp_sock");
}
const btfType = (expr: string | null): string | null => {
  if (expr === null) return null;
  if (expr === "BPF_PTR_POISON") return null; // resolved per call from the map's BTF record
  const t = btfIdTypes.get(expr);
  if (!t) throw new Error(`unresolved BTF id ${expr}`);
  return t;
};

const usedProtos = new Set<string>();
for (const byFn of uses.values()) for (const s of byFn.values()) for (const p of s) usedProtos.add(p);

const q = (s: string | null): string => (s === null ? "null" : JSON.stringify(s));
const protoRows = [...protos.values()]
  .filter((p) => usedProtos.has(p.symbol))
  .sort((a, b) => a.symbol.localeCompare(b.symbol))
  .map((p) => {
    const parts = [
      `symbol: "${p.symbol}"`,
      `file: "${p.file}"`,
      `gplOnly: ${p.gplOnly}`,
      `pktAccess: ${p.pktAccess}`,
      `mightSleep: ${p.mightSleep}`,
      `allowFastcall: ${p.allowFastcall}`,
      `ret: ${JSON.stringify(p.ret)}`,
      `args: ${JSON.stringify(p.args)}`,
    ];
    if (p.argSizes.some((s) => s !== null)) parts.push(`argSizes: ${JSON.stringify(p.argSizes)}`);
    if (p.argBtfIds.some((s) => s !== null)) {
      parts.push(`argBtfIds: [${p.argBtfIds.map(q).join(", ")}]`);
      parts.push(`argBtfTypes: [${p.argBtfIds.map((b) => q(btfType(b))).join(", ")}]`);
    }
    if (p.retBtfId) {
      parts.push(`retBtfId: ${q(p.retBtfId)}`);
      const t = btfType(p.retBtfId);
      if (t) parts.push(`retBtfType: ${q(t)}`);
    }
    if (p.allowed) parts.push(`allowed: ${q(p.allowed)}`);
    return `  { ${parts.join(", ")} },`;
  });

const useRows = [...uses.entries()]
  .sort((a, b) => a[0].localeCompare(b[0]))
  .map(([h, byFn]) => {
    const inner = [...byFn.entries()]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([fn, s]) => `${fn}: ${JSON.stringify([...s].sort())}`)
      .join(", ");
    return `  ${h}: { ${inner} },`;
  });
const fallbackRows = [...fallbacks.entries()]
  .sort((a, b) => a[0].localeCompare(b[0]))
  .map(
    ([fn, f]) =>
      `  ${fn}: { first: ${JSON.stringify([...f.first])}, after: ${JSON.stringify([...f.after])} },`,
  );

const providerRows = [...progTypeProvider.entries()].map(([pt, fn]) => `  ${pt}: "${fn}",`);

const out = `// GENERATED by scripts/abi/gen-helper-protos.ts from a Linux ${label} source tree. Do not edit.
// Facts read from the kernel's \`struct bpf_func_proto\` initialisers and \`*_func_proto(func_id, prog)\`
// switches; the shape is ours. Argument and return types are the kernel's ARG_* / RET_* names, with
// flags (MEM_RDONLY, PTR_MAYBE_NULL, ...) as further list entries, in source order.

/** One \`struct bpf_func_proto\` of the kernel. */
export interface KernelHelperProto {
  /** The C variable, e.g. bpf_map_lookup_elem_proto. */
  readonly symbol: string;
  /** Source file it is defined in. */
  readonly file: string;
  readonly gplOnly: boolean;
  /** May be passed packet pointers (else "helper access to the packet is not allowed"). */
  readonly pktAccess: boolean;
  /** Only sleepable programs may call it. */
  readonly mightSleep: boolean;
  readonly allowFastcall: boolean;
  /** RET_* name followed by any flags. */
  readonly ret: readonly string[];
  /** One entry per argument: the ARG_* name followed by any flags (MEM_RDONLY, MEM_ALIGNED ...). */
  readonly args: readonly (readonly string[])[];
  /** Byte size of MEM_FIXED_SIZE arguments (argN_size), null elsewhere. */
  readonly argSizes?: readonly (number | null)[];
  /** BTF id table entry named by argN_btf_id (ARG_PTR_TO_BTF_ID arguments), null elsewhere. */
  readonly argBtfIds?: readonly (string | null)[];
  /** The kernel type those entries name (\`struct task_struct\`); null for BPF_PTR_POISON (set per call). */
  readonly argBtfTypes?: readonly (string | null)[];
  readonly retBtfId?: string;
  readonly retBtfType?: string;
  /** Name of the kernel's extra \`allowed(prog)\` predicate, when there is one. */
  readonly allowed?: string;
}

/** Every prototype that some get_func_proto switch returns. */
export const KERNEL_HELPER_PROTOS: readonly KernelHelperProto[] = [
${protoRows.join("\n")}
];

/**
 * helper name (BPF_FUNC_ suffix) -> get_func_proto function -> prototype symbols it returns for
 * that id (several when the choice depends on attach type or capabilities).
 */
export const KERNEL_HELPER_PROTO_USES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
${useRows.join("\n")}
};

/** Program type (kernel name) -> the get_func_proto function of its verifier ops (bpf_types.h). */
export const KERNEL_PROG_TYPE_FUNC_PROTO: Readonly<Record<string, string>> = {
${providerRows.join("\n")}
};

/**
 * get_func_proto function -> the functions it asks first (before its own switch, taking their answer
 * when non-NULL) and after (its \`default:\` case), in source order.
 */
export const KERNEL_FUNC_PROTO_FALLBACKS: Readonly<
  Record<string, { readonly first: readonly string[]; readonly after: readonly string[] }>
> = {
${fallbackRows.join("\n")}
};
`;
const target = fileURLToPath(new URL("../../src/abi/helper-protos.ts", import.meta.url));
writeFileSync(target, out);
console.log(`wrote ${target}: ${protoRows.length} prototypes, ${useRows.length} helpers with a prototype`);
