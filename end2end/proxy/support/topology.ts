// The names, addresses and users of the proxy suite, shared by the global set-up and the specs.

/** One reverse proxy of the suite and the cookie domain it serves. */
export interface Proxy {
  name: 'nginx' | 'caddy';
  /** Gatehouse's cookie domain for everything this proxy serves. */
  domain: string;
  /** The loopback address the proxy listens on, port 443. */
  address: string;
  /** The configured portal URL (`authelia_url`) of the cookie domain. */
  portal: string;
}

export const PROXIES: Proxy[] = [
  { name: 'nginx', domain: 'nginx.example.test', address: '127.0.0.2', portal: 'https://auth.nginx.example.test/' },
  { name: 'caddy', domain: 'caddy.example.test', address: '127.0.0.3', portal: 'https://auth.caddy.example.test/' },
];

/** Fixed loopback ports; the proxy configurations name the first two. */
export const GATEHOUSE_PORT = 9191;
export const APPLICATION_PORT = 9192;
export const SMTP_PORT = 9125;

/** The session cookie's name (Gatehouse's default). */
export const SESSION_COOKIE = 'authelia_session';

/** Returns the URL of `path` on the application host `label` under the proxy's cookie domain. */
export function appUrl(proxy: Proxy, label: 'app' | 'secure' | 'admin', path = '/'): string {
  return `https://${label}.${proxy.domain}${path}`;
}

/** A user the global set-up creates with `gatehouse user add`. */
export interface User {
  username: string;
  displayName: string;
  email: string;
  groups: string[];
  password: string;
  /** Whether the set-up stores a TOTP secret for the user with `gatehouse user totp generate`. */
  totp?: boolean;
}

function user(username: string, displayName: string, groups: string[], totp = false): User {
  return {
    username,
    displayName,
    email: `${username}@example.test`,
    groups,
    password: `${username}-Passw0rd-for-tests`,
    totp,
  };
}

/**
 * Users of the suite. Flows that change a user's state (a TOTP step, a registered key, a new
 * password) get one user per proxy, so the two proxies' runs of a flow do not meet.
 */
export const USERS = {
  alice: user('alice', 'Alice Liddell', ['admins', 'dev']),
  bob: user('bob', 'Bob Marley', ['dev']),
  ...Object.fromEntries(
    PROXIES.flatMap((proxy) => [
      [`totp_${proxy.name}`, user(`totp_${proxy.name}`, `Tess ${proxy.name}`, ['dev'], true)],
      [`enrol_${proxy.name}`, user(`enrol_${proxy.name}`, `Enzo ${proxy.name}`, ['dev'])],
      [`webauthn_${proxy.name}`, user(`webauthn_${proxy.name}`, `Wendy ${proxy.name}`, ['dev'])],
      [`passkey_${proxy.name}`, user(`passkey_${proxy.name}`, `Pablo ${proxy.name}`, ['dev'])],
      [`reset_${proxy.name}`, user(`reset_${proxy.name}`, `Rita ${proxy.name}`, ['dev'])],
      [`remember_${proxy.name}`, user(`remember_${proxy.name}`, `Remy ${proxy.name}`, ['dev'])],
    ]),
  ),
} as Record<string, User>;

/** Returns the user named `username`, failing loudly for a name the set-up does not create. */
export function userNamed(username: string): User {
  const found = USERS[username];
  if (!found) throw new Error(`no user ${username} in the proxy suite's topology`);
  return found;
}

/** The description of a running environment that the global set-up writes to `environment.json`. */
export interface Environment {
  runDirectory: string;
  /** HOME for Chromium: its NSS database in `.pki/nssdb` trusts the suite's CA. */
  browserHome: string;
  caCertificate: string;
  artifacts: string;
  gatehouseLog: string;
  mailDirectory: string;
  database: 'sqlite' | 'postgres';
  /** Base32 TOTP secrets of the users created with one, by user name. */
  totpSecrets: Record<string, string>;
}

/** The variable through which the workers find `environment.json`. */
export const ENVIRONMENT_VARIABLE = 'GATEHOUSE_E2E_PROXY_ENVIRONMENT';
