import { InterlockError } from '../errors.ts';

/**
 * The gateway decides on paths (Cedar's `context.path`, critical-route
 * prefixes) and the service behind it routes on them. If the two could read
 * one request differently (`/%61dmin` vs `/admin`, `//invoices` vs
 * `/invoices`, `/a/../admin`), a `forbid` on a path or the signature
 * requirement of a critical route could be stepped around. So only paths in
 * one canonical form cross: refusing is simpler and safer than normalising
 * for every possible service's idea of normal (RFC 3986 §6.2.2: percent-
 * encoding of unreserved characters, dot segments; the merge-slashes and
 * escaped-slash checks Envoy offers as options).
 */
const UNRESERVED_OR_SLASH = /%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[DdEeFf]|5[CcFf]|7[Ee]|00)/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
// `..;x` is `..` to servlet containers (Tomcat, Jetty), so a dot segment may carry parameters too.
const DOT_SEGMENT = /(?:^|\/)\.{1,2}(?:[/;]|$)/;

function ambiguous(path: string, why: string): InterlockError {
  return new InterlockError('IL_ERR_ROUTE_PATH_AMBIGUOUS', `the path ${JSON.stringify(path.slice(0, 200))} ${why}; send it in canonical form`, { field: 'path' });
}

/** The request's path (without the query) if it is canonical; IL_ERR_ROUTE_PATH_AMBIGUOUS otherwise. */
export function canonicalPath(url: string | undefined): string {
  const target = url ?? '/';
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  if (!path.startsWith('/')) throw ambiguous(path, 'does not start with /');
  if (path.includes('//')) throw ambiguous(path, 'has an empty segment (//)');
  if (path.includes('\\')) throw ambiguous(path, 'has a backslash');
  // Path parameters (RFC 3986 §3.3) are stripped by some servers (`/admin;x` is `/admin` to Spring, Tomcat, Jetty)
  // and a fragment is never part of a request target (RFC 9112 §3.2): either would let a path rule be stepped around.
  if (path.includes(';')) throw ambiguous(path, 'has a path parameter (;)');
  if (path.includes('#')) throw ambiguous(path, 'has a fragment (#)');
  if (DOT_SEGMENT.test(path)) throw ambiguous(path, 'has a dot segment (. or ..)');
  if (BAD_ESCAPE.test(path)) throw ambiguous(path, 'has a malformed percent-escape');
  if (UNRESERVED_OR_SLASH.test(path)) throw ambiguous(path, 'percent-encodes a character that needs no encoding, a slash, a backslash or NUL');
  return path;
}
