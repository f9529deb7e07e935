#!/usr/bin/env node
import { runRelayCli } from "../dist/index.js";
runRelayCli(process.argv.slice(2));
