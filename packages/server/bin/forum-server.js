#!/usr/bin/env node
// Before the bundle loads, so that a stack trace names the TypeScript sources its map points to.
process.setSourceMapsEnabled(true);
await import('../dist/main.js');
