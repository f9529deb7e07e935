/**
 * Stack traces of the bundled binaries in their TypeScript sources, the source maps read only when a trace is
 * made. Node's own (`process.setSourceMapsEnabled(true)`, `--enable-source-maps`) reads and parses the map of
 * every module as it loads: some 25 ms of each forum-server or forum-client start, paid by every start though
 * most never make a stack trace (the test suite starts them hundreds of times). Here a module's map is read at
 * the first trace with a frame in it, and each frame whose file has a map is put in its source, as Node's does.
 */
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The map of each generated file (its URL) seen in a trace, or `null` where it has none that reads. */
const maps = new Map<string, SourceMap | null>();

const MAP_COMMENT = /\/\/[#@] sourceMappingURL=([^\s'"]+)\s*$/;

/** The map `fileUrl`'s last line names, its sources made absolute file URLs (Node resolves them so too). */
const readMap = (fileUrl: string): SourceMap | null => {
  try {
    const code = readFileSync(new URL(fileUrl), 'utf8');
    const named = MAP_COMMENT.exec(code.slice(-1024))?.[1];
    if (named === undefined || named.startsWith('data:')) return null;
    const mapUrl = new URL(named, fileUrl);
    const payload = JSON.parse(readFileSync(mapUrl, 'utf8')) as SourceMapPayload;
    const root = new URL(payload.sourceRoot === '' || payload.sourceRoot === undefined ? '.' : `${payload.sourceRoot.replace(/\/?$/, '/')}`, mapUrl);
    return new SourceMap({ ...payload, sourceRoot: '', sources: payload.sources.map((s) => new URL(s, root).href) });
  } catch {
    // Unreadable or not a map: the frame keeps the generated file's place.
    return null;
  }
};

const mapOf = (file: string): SourceMap | null => {
  // An ES module's frames name a file: URL, a CommonJS one's an absolute path; others ('node:…', 'evalmachine.<anonymous>') no file.
  const url = file.startsWith('file:') ? file : isAbsolute(file) ? pathToFileURL(file).href : undefined;
  if (url === undefined) return null;
  let map = maps.get(url);
  if (map === undefined) {
    map = readMap(url);
    maps.set(url, map);
  }
  return map;
};

/** V8's text for `site`, its file's place replaced by the source's where the file has a map that covers it. */
const mappedFrameText = (site: NodeJS.CallSite, text: string): string => {
  const file = site.getFileName();
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  if (file === undefined || file === null || line === null || column === null) return text;
  const map = mapOf(file);
  if (map === null) return text;
  const entry: Partial<{ originalSource: string; originalLine: number; originalColumn: number }> = map.findEntry(line - 1, column - 1);
  if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return text;
  const place = `${file}:${line}:${column}`;
  const at = text.lastIndexOf(place);
  if (at === -1) return text;
  const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : entry.originalSource;
  return `${text.slice(0, at)}${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}${text.slice(at + place.length)}`;
};

/**
 * `site`'s text, mapped where that works: a throw here would make reading the error's `stack` throw, and an
 * uncaught error print without its trace or cause (fileURLToPath refuses a source named with an encoded '/', say).
 */
const frameText = (site: NodeJS.CallSite): string => {
  const text = String(site);
  try {
    return mappedFrameText(site, text);
  } catch {
    return text;
  }
};

/**
 * Whether `error` is one of Node's own (internal/errors.js), whose trace Node heads `Name [CODE]: message`. Node
 * marks them by a symbol of its own on their prototype, not exported: found by its description.
 */
const isNodeError = (error: object): boolean => {
  for (let o: object | null = error; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    if (Object.getOwnPropertySymbols(o).some((s) => s.description === 'kIsNodeError')) return true;
  }
  return false;
};

/**
 * `error`'s first line as Node writes it: `Name [CODE]: message` for Node's own errors, else Error.prototype.toString,
 * which takes any object (Error.captureStackTrace's: `{ name: 'X', message: 'm' }` is 'X: m', `{}` 'Error').
 */
const headline = (error: unknown): string => {
  try {
    if (typeof error !== 'object' || error === null) return String(error);
    if (isNodeError(error)) {
      const { name, code, message } = error as { readonly name: unknown; readonly code: unknown; readonly message: unknown };
      return `${String(name)} [${String(code)}]: ${String(message)}`;
    }
    return Error.prototype.toString.call(error);
  } catch {
    return '<error>';
  }
};

/**
 * Puts every stack trace made from now on in the sources its files' maps name (Error.prepareStackTrace), reading
 * each map at the first trace through its file. For a binary's entry, before its bundle is imported.
 */
export const mapStackTraces = (): void => {
  Error.prepareStackTrace = (error, sites) => `${headline(error)}${sites.map((site) => `\n    at ${frameText(site)}`).join('')}`;
};
