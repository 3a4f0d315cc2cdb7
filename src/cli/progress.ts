/**
 * A one-line progress bar on stderr for commands that work through many files (`verify a.o b.o
 * ...`), drawn only when stderr is a terminal so pipes, CI logs and JSON on stdout stay clean.
 */
import type { CliIo } from "./io.js";

export interface Progress {
  /** Call before working on item `index` (0-based). */
  step(index: number, label: string): void;
  /** Erase the bar. */
  done(): void;
}

const WIDTH = 24;
/** Fewer items than this finish too fast for a bar to help. */
const MIN_ITEMS = 3;

const silent: Progress = { step() {}, done() {} };

export function progressBar(io: CliIo, total: number): Progress {
  if (!io.stderrIsTTY || total < MIN_ITEMS) return silent;
  const columns = io.stderrColumns ?? 80;
  let drawn = false;
  return {
    step(index, label) {
      const filled = Math.round((index / total) * WIDTH);
      const head = `[${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${index + 1}/${total} `;
      const room = Math.max(0, columns - head.length - 1);
      const tail = label.length > room ? `...${label.slice(label.length - room + 3)}` : label;
      io.stderr(`\r\x1b[K${head}${room > 3 ? tail : ""}`);
      drawn = true;
    },
    done() {
      if (drawn) io.stderr("\r\x1b[K");
      drawn = false;
    },
  };
}
