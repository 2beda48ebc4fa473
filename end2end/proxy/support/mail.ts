// Messages Gatehouse sent to the SMTP sink (aiosmtpd's Mailbox handler writes a maildir).
import fs from 'node:fs';
import path from 'node:path';

import { Environment } from './topology';

export interface Message {
  to: string;
  subject: string;
  text: string;
}

function readMessages(environment: Environment): Message[] {
  const directory = path.join(environment.mailDirectory, 'new');
  if (!fs.existsSync(directory)) return [];
  return fs
    .readdirSync(directory)
    .sort()
    .map((file) => {
      const raw = fs.readFileSync(path.join(directory, file), 'utf8');
      const [head, ...rest] = raw.split(/\r?\n\r?\n/);
      const header = (name: string) => head.match(new RegExp(`^${name}:\\s*(.*)$`, 'im'))?.[1] ?? '';
      // Quoted-printable soft line breaks would cut links in two.
      const text = rest.join('\n\n').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      return { to: header('To'), subject: header('Subject'), text };
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
