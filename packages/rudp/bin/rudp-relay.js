#!/usr/bin/env node
import { runRelayCli } from "../dist/relay.js";
runRelayCli(process.argv.slice(2));
