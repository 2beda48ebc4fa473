// Requests through a proxy without a browser, the way curl would send them: to the proxy's
// loopback address with the right SNI and Host, trusting only the suite's CA.
import fs from 'node:fs';
import https from 'node:https';

import { Environment, Proxy } from './topology';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends one request to `url` through `proxy`; `headers` may repeat a name by giving a list. */
export function request(
  environment: Environment,
  proxy: Proxy,
  url: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {},
): Promise<Reply> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const outgoing = https.request(
      {
        host: proxy.address,
        port: 443,
        servername: target.hostname,
        method: options.method ?? 'GET',
        path: `${target.pathname}${target.search}`,
        headers: { Host: target.host, ...options.headers },
        ca: fs.readFileSync(environment.caCertificate),
        agent: false,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    outgoing.setTimeout(10_000, () => outgoing.destroy(new Error(`request to ${url} timed out`)));
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

/** Logs in with the portal's JSON API through the proxy; returns the `Cookie` header value to send. */
export async function sessionCookie(environment: Environment, proxy: Proxy, username: string, password: string): Promise<string> {
  const reply = await request(environment, proxy, new URL('/api/firstfactor', proxy.portal).href, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password, keepMeLoggedIn: false }),
  });
  if (reply.status !== 200) throw new Error(`login of ${username} through ${proxy.name} failed: ${reply.status} ${reply.body}`);
  const cookies = ([] as string[]).concat(reply.headers['set-cookie'] ?? []);
  if (cookies.length === 0) throw new Error(`login of ${username} through ${proxy.name} set no cookie`);
  return cookies.map((cookie) => cookie.split(';')[0]).join('; ');
}

/** Returns the headers the echo application received, as [lower-case name, value] pairs. */
export function echoedHeaders(body: string): [string, string][] {
  return (JSON.parse(body) as { headers: [string, string][] }).headers;
}

/** Returns every value the echo application received for the header `name`. */
export function echoedValues(body: string, name: string): string[] {
  return echoedHeaders(body)
    .filter(([header]) => header === name.toLowerCase())
    .map(([, value]) => value);
}
