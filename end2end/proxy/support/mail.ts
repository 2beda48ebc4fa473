// Messages Gatehouse sent to the SMTP sink (aiosmtpd's Mailbox handler writes a maildir).
import fs from 'node:fs';
import path from 'node:path';

import { Environment } from './topology';

export interface Message {
  to: string;
  subject: string;
  text: string;
}

/** Splits a MIME entity into its header block and body. */
function splitEntity(raw: string): { head: string; body: string } {
  const match = raw.match(/\r?\n\r?\n/);
  if (!match || match.index === undefined) return { head: raw, body: '' };
  return { head: raw.slice(0, match.index), body: raw.slice(match.index + match[0].length) };
}

/** Returns the value of header `name`, with folded lines joined. */
function headerValue(head: string, name: string): string {
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  return unfolded.match(new RegExp(`^${name}:[ \t]*(.*)$`, 'im'))?.[1].trim() ?? '';
}

/** Decodes a body by its Content-Transfer-Encoding (base64, quoted-printable or none). */
function decodeBody(head: string, body: string): string {
  const encoding = headerValue(head, 'Content-Transfer-Encoding').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex) => `%${hex}`);
    return decodeURIComponent(bytes.replace(/%(?![0-9A-F]{2})/gi, '%25'));
  }
  return body;
}

/** Returns the text of a message: its text/plain part when it has several. */
function plainText(head: string, body: string): string {
  const boundary = headerValue(head, 'Content-Type').match(/boundary="?([^";]+)"?/i)?.[1];
  if (!boundary) return decodeBody(head, body);
  const parts = body.split(`--${boundary}`).slice(1, -1).map((part) => splitEntity(part.replace(/^\r?\n/, '')));
  const plain = parts.find((part) => /text\/plain/i.test(headerValue(part.head, 'Content-Type'))) ?? parts[0];
  return plain ? plainText(plain.head, plain.body) : '';
}

function readMessages(environment: Environment): Message[] {
  const directory = path.join(environment.mailDirectory, 'new');
  if (!fs.existsSync(directory)) return [];
  // Maildir file names start with the delivery time, so sorting them keeps the order of arrival.
  return fs
    .readdirSync(directory)
    .sort()
    .map((file) => {
      const { head, body } = splitEntity(fs.readFileSync(path.join(directory, file), 'utf8'));
      return { to: headerValue(head, 'To'), subject: headerValue(head, 'Subject'), text: plainText(head, body) };
    });
}

/** Returns how many messages to `address` the sink holds. */
export function countMessages(environment: Environment, address: string): number {
  return readMessages(environment).filter((message) => message.to.includes(address)).length;
}

/**
 * Waits up to ten seconds for a message to `address` that `accept` takes, newest first; `index`
 * counts the messages to that address in order of arrival.
 */
export async function waitForMessage(
  environment: Environment,
  address: string,
  accept: (message: Message, index: number) => boolean = () => true,
): Promise<Message> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const found = readMessages(environment)
      .filter((message) => message.to.includes(address))
      .map((message, index) => ({ message, index }))
      .reverse()
      .find(({ message, index }) => accept(message, index))?.message;
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no message to ${address} arrived in the SMTP sink within 10 s`);
}

/** Returns the first link in `message` whose path starts with `pathPrefix`. */
export function linkIn(message: Message, pathPrefix: string): string {
  const link = message.text.match(/https:\/\/\S+/g)?.find((url) => new URL(url).pathname.startsWith(pathPrefix));
  if (!link) throw new Error(`no ${pathPrefix} link in the message "${message.subject}"`);
  return link;
}
