import type { Command } from "commander";
import type { CliIo } from "../io.js";

// Placeholder until the btf command lands (being written now).
export function registerBtf(_program: Command, _io: CliIo): void {}
