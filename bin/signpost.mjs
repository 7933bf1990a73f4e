#!/usr/bin/env node
// The `signpost` command. The TypeScript sources are built to dist/ by `npm install` (prepare).
import { main } from '../dist/runtime/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
