// Starts the proxy suite's environment before any spec runs and returns the function that stops
// it: a CA and certificates, Chromium's NSS database trusting the CA, an SMTP sink, the echo
// application, Gatehouse (SQLite, or PostgreSQL with GATEHOUSE_E2E_DATABASE=postgres) with its
// users, nginx on 127.0.0.2:443 and Caddy on 127.0.0.3:443.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import {
  APPLICATION_PORT,
  ENVIRONMENT_VARIABLE,
  Environment,
  GATEHOUSE_PORT,
  PROXIES,
  SMTP_PORT,
  USERS,
} from './topology';

const end2end = path.resolve(__dirname, '../..');
const root = path.resolve(end2end, '..');

interface Service {
  name: string;
  child: ChildProcess;
  log: string;
}

/** Runs the set-up; Playwright calls the returned function after the last spec. */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const database = process.env.GATEHOUSE_E2E_DATABASE === 'postgres' ? 'postgres' : 'sqlite';
  const artifacts = path.resolve(process.env.GATEHOUSE_E2E_PROXY_ARTIFACTS ?? path.join(root, 'artifacts/end2end-proxy', database));
  fs.rmSync(artifacts, { recursive: true, force: true });
  fs.mkdirSync(artifacts, { recursive: true });

  checkTools();
  const runDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-proxy-e2e-'));
  // nginx's worker processes run as an unprivileged user and must reach their temp directories.
  fs.chmodSync(runDirectory, 0o755);
  const logs = path.join(runDirectory, 'logs');
  fs.mkdirSync(logs);

  const services: Service[] = [];
  const stop = async () => {
    await stopServices(services);
    for (const file of fs.readdirSync(logs)) fs.copyFileSync(path.join(logs, file), path.join(artifacts, file));
    if (!process.env.GATEHOUSE_E2E_KEEP) fs.rmSync(runDirectory, { recursive: true, force: true });
  };
  // A runner that exits without the teardown still stops what the set-up started. SIGTERM, because
  // nginx's workers outlive a master killed with SIGKILL and keep port 443.
  process.once('exit', () => services.forEach((service) => service.child.kill('SIGTERM')));

  try {
    for (const port of [GATEHOUSE_PORT, APPLICATION_PORT, SMTP_PORT]) await expectFree('127.0.0.1', port);
    for (const proxy of PROXIES) await expectFree(proxy.address, 443);

    const certificates = path.join(runDirectory, 'certificates');
    const caCertificate = makeCertificates(certificates);
    const browserHome = path.join(runDirectory, 'browser-home');
    trustInNss(browserHome, caCertificate);

    const mailDirectory = path.join(runDirectory, 'mail');
    services.push(
      start('smtp-sink', '/usr/bin/python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${SMTP_PORT}`, '-c', 'aiosmtpd.handlers.Mailbox', mailDirectory], logs),
    );
    services.push(start('echo-app', process.execPath, [path.join(__dirname, 'echo-app.mjs'), '127.0.0.1', String(APPLICATION_PORT)], logs));

    const gatehouse = path.join(runDirectory, 'gatehouse');
    fs.mkdirSync(gatehouse);
    const config = path.join(gatehouse, 'configuration.yml');
    fs.writeFileSync(config, gatehouseConfig(database, gatehouse, runDirectory), { mode: 0o600 });
    const totpSecrets = createUsers(config);
    const gatehouseService = start('gatehouse', gatehouseBinary(), ['serve', '--config', config], logs, {
      GATEHOUSE_SITE_ROOT: process.env.GATEHOUSE_SITE_ROOT ?? path.join(root, 'target/site'),
      RUST_LOG: undefined,
    });
    services.push(gatehouseService);

    for (const proxy of PROXIES) {
      const directory = path.join(runDirectory, proxy.name);
      fs.cpSync(path.join(end2end, 'proxy', proxy.name), directory, { recursive: true });
      fs.mkdirSync(path.join(directory, 'certs'));
      for (const extension of ['crt', 'key']) {
        fs.copyFileSync(path.join(certificates, `${proxy.domain}.${extension}`), path.join(directory, 'certs', `${proxy.domain}.${extension}`));
      }
    }
    fs.mkdirSync(path.join(runDirectory, 'nginx/temp'));
    const nginxDirectory = path.join(runDirectory, 'nginx');
    services.push(start('nginx', 'nginx', ['-p', `${nginxDirectory}/`, '-c', 'nginx.conf', '-e', 'stderr', '-g', 'daemon off;'], logs));
    const caddyDirectory = path.join(runDirectory, 'caddy');
    services.push(
      start('caddy', 'caddy', ['run', '--adapter', 'caddyfile', '--config', 'Caddyfile'], logs, {
        HOME: caddyDirectory,
        XDG_DATA_HOME: path.join(caddyDirectory, 'data'),
        XDG_CONFIG_HOME: path.join(caddyDirectory, 'config'),
      }, caddyDirectory),
    );

    await waitForPort(services, gatehouseService, '127.0.0.1', GATEHOUSE_PORT);
    await waitForPort(services, services[0], '127.0.0.1', SMTP_PORT);
    await waitForPort(services, services[1], '127.0.0.1', APPLICATION_PORT);
    for (const proxy of PROXIES) {
      await waitForPort(services, services.find((service) => service.name === proxy.name)!, proxy.address, 443);
    }

    const environment: Environment = {
      runDirectory,
      browserHome,
      caCertificate,
      artifacts,
      gatehouseLog: gatehouseService.log,
      mailDirectory,
      database,
      totpSecrets,
    };
    const environmentFile = path.join(runDirectory, 'environment.json');
    fs.writeFileSync(environmentFile, JSON.stringify(environment, null, 2));
    // Workers inherit the runner's environment variables set here.
    process.env[ENVIRONMENT_VARIABLE] = environmentFile;
    console.log(`proxy suite: environment in ${runDirectory}, Gatehouse on ${database}, artifacts in ${artifacts}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}

/** Fails with the install command when a tool of the suite is missing. */
function checkTools(): void {
  const missing: string[] = [];
  for (const tool of ['nginx', 'caddy', 'openssl', 'certutil']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      missing.push(tool);
    }
  }
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import aiosmtpd'], { stdio: 'ignore' });
  } catch {
    missing.push('python3-aiosmtpd');
  }
  if (missing.length > 0) {
    throw new Error(`proxy suite: missing ${missing.join(', ')}; run \`make setup-test\` (scripts/setup.sh test) to install them`);
  }
  if (process.getuid && process.getuid() !== 0) {
    throw new Error('proxy suite: nginx and Caddy listen on port 443 of 127.0.0.2 and 127.0.0.3, which needs root; run the suite as root');
  }
}

/** Returns the Gatehouse binary: the checkout's copy made by scripts/link-build.sh, else the cache's. */
function gatehouseBinary(): string {
  if (process.env.GATEHOUSE_E2E_BINARY) return process.env.GATEHOUSE_E2E_BINARY;
  const checkout = path.join(root, 'target/debug/gatehouse');
  if (fs.existsSync(checkout)) return checkout;
  return path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'debug/gatehouse');
}

/**
 * Creates a CA valid for two days and, per proxy, a key and a certificate for its cookie domain
 * and every name under it. Returns the CA certificate's path.
 */
function makeCertificates(directory: string): string {
  fs.mkdirSync(directory);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: directory, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Gatehouse end-to-end test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  );
  for (const proxy of PROXIES) {
    const extensions = `${proxy.domain}.ext`;
    fs.writeFileSync(
      path.join(directory, extensions),
      [
        `subjectAltName=DNS:${proxy.domain},DNS:*.${proxy.domain}`,
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
      ].join('\n'),
    );
    openssl(
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', `${proxy.domain}.key`, '-out', `${proxy.domain}.csr`, '-subj', `/CN=${proxy.domain}`,
    );
    openssl(
      'x509', '-req', '-in', `${proxy.domain}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '2', '-out', `${proxy.domain}.crt`, '-extfile', extensions,
    );
  }
  return path.join(directory, 'ca.crt');
}

/**
 * Creates the NSS database Chromium reads on Linux ($HOME/.pki/nssdb) and trusts the CA there for
 * TLS servers. Chromium then treats the proxies as secure origins, which WebAuthn requires. A
 * browser that ignores certificate errors would turn WebAuthn off instead.
 */
function trustInNss(home: string, caCertificate: string): void {
  const database = path.join(home, '.pki/nssdb');
  fs.mkdirSync(database, { recursive: true });
  execFileSync('certutil', ['-d', `sql:${database}`, '-N', '--empty-password']);
  execFileSync('certutil', ['-d', `sql:${database}`, '-A', '-t', 'C,,', '-n', 'Gatehouse end-to-end test CA', '-i', caCertificate]);
}

/** Returns Gatehouse's configuration for the suite: both cookie domains and the rules the specs use. */
function gatehouseConfig(database: 'sqlite' | 'postgres', directory: string, runDirectory: string): string {
  const rules = PROXIES.map(
    (proxy) => `    - domain: 'app.${proxy.domain}'
      resources: ['^/public([/?].*)?$']
      policy: bypass
    - domain: 'app.${proxy.domain}'
      policy: one_factor
    - domain: 'secure.${proxy.domain}'
      policy: two_factor
    - domain: 'admin.${proxy.domain}'
      subject: 'group:admins'
      policy: one_factor
`,
  ).join('');
  const cookies = PROXIES.map(
    (proxy) => `    - domain: '${proxy.domain}'
      authelia_url: '${proxy.portal}'
`,
  ).join('');
  return `# Written by the proxy suite's global set-up for one run.
server:
  address: 'tcp://127.0.0.1:${GATEHOUSE_PORT}/'
  # Every browser reaches Gatehouse from 127.0.0.1, and the flows through both proxies request
  # and confirm six elevation codes within minutes, more than the defaults (3 in 5 and in 10
  # minutes) allow.
  endpoints:
    rate_limits:
      session_elevation_start:
        buckets:
          - period: 5m
            requests: 20
      session_elevation_finish:
        buckets:
          - period: 10m
            requests: 20
log:
  level: debug
session:
  secret: '${randomSecret()}'
  expiration: 1h
  inactivity: 5m
  remember_me: 1M
  cookies:
${cookies}storage:
  encryption_key: '${randomSecret()}'
${storageConfig(database, directory, runDirectory)}notifier:
  smtp:
    address: 'smtp://127.0.0.1:${SMTP_PORT}'
    sender: 'Gatehouse <gatehouse@example.test>'
    disable_require_tls: true
    disable_starttls: true
identity_validation:
  reset_password:
    jwt_secret: '${randomSecret()}'
authentication_backend:
  database:
    password:
      argon2:
        iterations: 1
        memory: 1024
        parallelism: 1
totp:
  issuer: 'Gatehouse end-to-end'
webauthn:
  display_name: 'Gatehouse end-to-end'
  enable_passkey_login: true
access_control:
  default_policy: deny
  rules:
${rules}`;
}

/** Returns the storage section: a SQLite file, or a fresh schema on the throwaway PostgreSQL. */
function storageConfig(database: 'sqlite' | 'postgres', directory: string, runDirectory: string): string {
  if (database === 'sqlite') return `  local:\n    path: '${path.join(directory, 'gatehouse.sqlite3')}'\n`;
  const address = process.env.GATEHOUSE_TEST_POSTGRES_URL;
  if (!address) {
    throw new Error('proxy suite: GATEHOUSE_E2E_DATABASE=postgres needs GATEHOUSE_TEST_POSTGRES_URL (scripts/postgres-test.sh start)');
  }
  const url = new URL(address);
  const schema = `e2e_${path.basename(runDirectory).replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
  return `  postgres:
    address: 'tcp://${url.hostname}:${url.port || 5432}'
    database: '${url.pathname.replace(/^\//, '')}'
    schema: '${schema}'
    username: '${decodeURIComponent(url.username)}'
    password: '${decodeURIComponent(url.password) || 'unused-with-trust-authentication'}'
`;
}

function randomSecret(): string {
  return crypto.randomBytes(36).toString('base64url');
}

/** Creates every user of the topology with the CLI; returns the TOTP secrets it generated. */
function createUsers(config: string): Record<string, string> {
  const secrets: Record<string, string> = {};
  const binary = gatehouseBinary();
  for (const user of Object.values(USERS)) {
    execFileSync(
      binary,
      ['--config', config, 'user', 'add', user.username, '--email', user.email, '--name', user.displayName, '--groups', user.groups.join(','), '--password-stdin'],
      { input: `${user.password}\n`, stdio: ['pipe', 'ignore', 'pipe'] },
    );
    if (user.totp) {
      const output = execFileSync(binary, ['--config', config, 'user', 'totp', 'generate', user.username], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
      const uri = output.match(/otpauth:\/\/\S+/);
      const secret = uri && new URL(uri[0]).searchParams.get('secret');
      if (!secret) throw new Error(`proxy suite: no otpauth URI in the output of \`gatehouse user totp generate ${user.username}\``);
      secrets[user.username] = secret;
    }
  }
  return secrets;
}

function start(name: string, command: string, args: string[], logs: string, extraEnvironment: Record<string, string | undefined> = {}, cwd?: string): Service {
  const log = path.join(logs, `${name}.log`);
  const output = fs.openSync(log, 'a');
  const environment = { ...process.env, ...extraEnvironment };
  for (const [key, value] of Object.entries(environment)) if (value === undefined) delete environment[key];
  const child = spawn(command, args, { cwd, env: environment, stdio: ['ignore', output, output] });
  fs.closeSync(output);
  child.on('error', (error) => fs.appendFileSync(log, `\nproxy suite: could not start ${command}: ${error.message}\n`));
  return { name, child, log };
}

/** Waits until `address:port` accepts connections; fails with the service's log if it exits first. */
async function waitForPort(all: Service[], service: Service, address: string, port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null || service.child.signalCode !== null) {
      throw new Error(`proxy suite: ${service.name} exited during start-up:\n${tail(service.log)}`);
    }
    if (await connects(address, port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`proxy suite: ${service.name} did not listen on ${address}:${port} within 60 s:\n${tail(service.log)}`);
}

async function expectFree(address: string, port: number): Promise<void> {
  if (await connects(address, port)) {
    throw new Error(`proxy suite: ${address}:${port} is already in use; is another run of the suite still going?`);
  }
}

function connects(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function tail(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-40).join('\n') : '(no log)';
}

/** Stops the services in reverse order: SIGTERM, then SIGKILL after five seconds. */
async function stopServices(services: Service[]): Promise<void> {
  for (const service of [...services].reverse()) {
    const { child } = service;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
