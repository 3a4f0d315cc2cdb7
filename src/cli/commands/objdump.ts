import type { Command } from "commander";
import type { CliIo } from "../io.js";

// Placeholder until the objdump command lands (being written now).
export function registerObjdump(_program: Command, _io: CliIo): void {}
