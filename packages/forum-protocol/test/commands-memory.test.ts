import { createMemoryStore } from '../src/index.js';
import { commandSuite } from './command-suite.js';

commandSuite('in-memory', async ({ threads, ...options } = {}) => createMemoryStore({ threads }, options));
