#!/usr/bin/env node
// The installed `semclip` command. A committed file rather than dist/cli.js itself, so that
// `pnpm install` in a fresh clone can link the bin before anything is built (it used to warn
// "Failed to create bin ... ENOENT" for tests/e2e).
import '../dist/cli.js';
