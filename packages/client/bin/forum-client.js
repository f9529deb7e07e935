#!/usr/bin/env node
// Before the bundle loads, so that a stack trace names the TypeScript sources its map points to. Not Node's own
// source maps (process.setSourceMapsEnabled), which read every module's map at every start: ours are read when a
// trace is first made (forum-protocol's src/process/stack-source-maps.ts).
import { mapStackTraces } from '../dist/stack-source-maps.js';

mapStackTraces();
await import('../dist/main.js');
