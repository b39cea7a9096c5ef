#!/usr/bin/env node
// Launcher: register tsx (the CLI is TypeScript run from source), then hand over to it.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../harness/cli.ts');
process.exitCode = await main(process.argv.slice(2));
