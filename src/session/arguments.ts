import { InvalidArgumentError } from './errors.js';

/**
 * Checking what an application passes to the public API.
 *
 * Options are checked before anything happens (no socket bound, no packet sent): an unknown
 * option or one of the wrong type throws an InvalidArgumentError that names it, so a misspelt
 * option (`timeout` for `timeoutMs`) fails loudly instead of being ignored.
 */

/**
 * Checks that `options` is an object (or undefined) whose keys are all in `known`; `what` names it
 * in the error ("Endpoint.bind options").
 */
export function checkOptionKeys(what: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`${what} must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new InvalidArgumentError(`${what}: unknown option '${key}' (known: ${known.join(', ')})`);
  }
}

/** The `signal` option, checked: an AbortSignal or undefined. */
export function signalOption(what: string, signal: unknown): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  throw new InvalidArgumentError(`${what}: signal must be an AbortSignal, got ${describe(signal)}`);
}

/** Options of a wait of the public API (opening a stream, the next incoming stream or datagram...). */
export interface WaitOptions {
  /** Ends the wait: it rejects with the signal's reason and leaves no waiter behind. */
  readonly signal?: AbortSignal;
}

/** The `signal` of a wait's options, after checking them (`what` names the call in errors). */
export function waitSignal(what: string, options: WaitOptions | undefined): AbortSignal | undefined {
  checkOptionKeys(`${what} options`, options, ['signal']);
  return signalOption(what, options?.signal);
}

/** Throws InvalidArgumentError unless `value` is undefined or of type `type`. */
export function checkType(what: string, name: string, value: unknown, type: 'string' | 'boolean' | 'function' | 'object'): void {
  if (value === undefined || typeof value === type) return;
  throw new InvalidArgumentError(`${what}: ${name} must be a ${type}, got ${describe(value)}`);
}

/** Throws InvalidArgumentError unless `value` is undefined or an array of strings. */
export function checkStrings(what: string, name: string, value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new InvalidArgumentError(`${what}: ${name} must be a list of strings, got ${describe(value)}`);
  }
}

/**
 * Throws InvalidArgumentError unless `endpoint` is an Endpoint, or another SessionHost: an object
 * with the method the call needs (`dial`, `acceptNext`).
 */
export function checkHost(what: string, endpoint: unknown, method: 'dial' | 'acceptNext'): void {
  if (typeof endpoint === 'object' && endpoint !== null && typeof (endpoint as Record<string, unknown>)[method] === 'function') return;
  throw new InvalidArgumentError(`${what}: endpoint must be an Endpoint (or a SessionHost), got ${describe(endpoint)}`);
}

/** A short description of a value for an error message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object') {
    const name = (v as { constructor?: { name?: string } }).constructor?.name;
    return name === undefined || name === 'Object' ? 'an object' : `a ${name}`;
  }
  return `${typeof v} ${String(v)}`;
}
