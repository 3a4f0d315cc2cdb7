/**
 * tracefs event `format` files: the layout of the record a tracepoint program reads
 * (`<tracefs>/events/<category>/<name>/format`).
 */

/** One field of a tracefs event `format` file. */
export interface TracepointField {
  /** C declaration type as written, e.g. `unsigned long`, `const char *`. */
  readonly type: string;
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly signed: boolean;
  /** Element count for `args[6]`-style arrays. */
  readonly count?: number;
}

export interface TracepointFormat {
  readonly name: string;
  readonly id: number;
  readonly fields: readonly TracepointField[];
}

/**
 * Parses `<tracefs>/events/<category>/<name>/format`. The record a tracepoint program sees is laid
 * out by these fields (the `common_*` header included; the program may read only from offset 8).
 */
export function parseTracepointFormat(text: string): TracepointFormat {
  const name = /^name: (\S+)$/m.exec(text)?.[1] ?? "";
  const id = Number(/^ID: (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
  const fields: TracepointField[] = [];
  for (const m of text.matchAll(/^\s*field:(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/gm)) {
    const decl = m[1]!.trim();
    const d = /^(.*?)\s*\b(\w+)(?:\[(\d*)\])?$/.exec(decl);
    const type = d ? d[1]!.trim() : decl;
    const fname = d ? d[2]! : decl;
    const count = d?.[3] ? Number(d[3]) : undefined;
    fields.push({
      type,
      name: fname,
      offset: Number(m[2]),
      size: Number(m[3]),
      signed: m[4] === "1",
      ...(count !== undefined ? { count } : {}),
    });
  }
  return { name, id, fields };
}
