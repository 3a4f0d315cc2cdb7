/**
 * The child process of runUnprivileged (src/loader/unprivileged.ts), started as nobody without
 * capabilities: reads a ChildRequest on stdin, calls the named function on each job in order and
 * writes the results as one JSON array on stdout.
 */
import { type ChildRequest, type ChildResult, fromWire, toWire } from "./unprivileged.js";

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const req = fromWire(Buffer.concat(chunks).toString()) as ChildRequest;
  const mod = (await import(req.module)) as Record<string, unknown>;
  const f = mod[req.fn];
  if (typeof f !== "function") throw new Error(`${req.module} exports no function ${req.fn}`);
  const out: ChildResult[] = [];
  for (const job of req.jobs) {
    try {
      out.push({ ok: true, value: await (f as (j: unknown) => unknown)(job) });
    } catch (e) {
      out.push({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  process.stdout.write(toWire(out));
}

await main();
