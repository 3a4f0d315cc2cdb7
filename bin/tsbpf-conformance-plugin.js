#!/usr/bin/env node
import { pluginMain } from "../dist/cli/conformance-plugin.js";

process.exitCode = await pluginMain(process.argv);
