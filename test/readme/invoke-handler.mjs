// Runs a README block marked `handler` as a serverless runtime would: one invocation, then the
// process stops at once (process.exit skips the processor's exit flush, as a frozen runtime does),
// so whatever reached the server was sent before the handler's promise settled.
//
//   node invoke-handler.mjs <compiled block> <event as JSON>
import { pathToFileURL } from 'node:url';

const [modulePath, eventJson] = process.argv.slice(2);
const { handler } = await import(pathToFileURL(modulePath).href);
if (typeof handler !== 'function') throw new Error(`${modulePath} exports no handler`);
const result = await handler(JSON.parse(eventJson));
console.log(JSON.stringify({ result }));
process.exit(0);
