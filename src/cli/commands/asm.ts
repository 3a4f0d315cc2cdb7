import type { Command } from "commander";
import type { CliIo } from "../io.js";

// Placeholder until the asm command lands (being written now).
export function registerAsm(_program: Command, _io: CliIo): void {}
