import type { Environment } from '../config.js';

/** The serverless platforms whose process freezes (or ends) once a request is answered. */
export type ServerlessPlatform = 'aws-lambda' | 'vercel' | 'netlify' | 'google-cloud-functions';

/**
 * The platform this process runs on, from the variables each one sets in its functions:
 * Vercel `VERCEL`, Netlify `NETLIFY`, AWS Lambda `AWS_LAMBDA_FUNCTION_NAME` (or an
 * `AWS_EXECUTION_ENV` of `AWS_Lambda_*`), Google Cloud Functions `FUNCTION_TARGET` (or
 * `K_SERVICE` with `FUNCTION_SIGNATURE_TYPE`). Undefined on a long-running server.
 */
export function detectServerless(env: Environment): ServerlessPlatform | undefined {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  if (set('VERCEL')) return 'vercel';
  if (set('NETLIFY')) return 'netlify';
  if (set('AWS_LAMBDA_FUNCTION_NAME') || (env.AWS_EXECUTION_ENV ?? '').startsWith('AWS_Lambda')) return 'aws-lambda';
  if (set('FUNCTION_TARGET') || (set('K_SERVICE') && set('FUNCTION_SIGNATURE_TYPE'))) return 'google-cloud-functions';
  return undefined;
}

/** Where Vercel's runtime publishes the current request's context (what `@vercel/otel` reads). */
const VERCEL_REQUEST_CONTEXT = Symbol.for('@vercel/request-context');

interface VercelRequestContext {
  /** Keeps the invocation alive until the promise the callback returns settles. */
  waitUntil?: (task: () => Promise<unknown>) => void;
}

/**
 * The `waitUntil` of the request being served on Vercel, if any: a span that starts inside a
 * request hands its delivery to the platform through it, with no flush call in user code.
 */
export function vercelWaitUntil(): ((promise: Promise<void>) => void) | undefined {
  const holder = (globalThis as Record<symbol, { get?: () => VercelRequestContext | undefined } | undefined>)[VERCEL_REQUEST_CONTEXT];
  const requestContext = holder?.get?.();
  if (typeof requestContext?.waitUntil !== 'function') return undefined;
  // Vercel's request context takes a function (run once the response is sent), as @vercel/otel
  // passes it; called on the context, which may need its `this`.
  return (promise) => requestContext.waitUntil!(() => promise);
}
