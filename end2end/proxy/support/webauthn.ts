// Chromium's virtual authenticator, through the DevTools protocol's WebAuthn domain: it responds to
// navigator.credentials calls as a security key or a passkey would, with no person present.
import { BrowserContext, CDPSession, Page } from '@playwright/test';

export interface VirtualAuthenticator {
  session: CDPSession;
  authenticatorId: string;
}

/** Adds a CTAP2 authenticator with resident keys and user verification to `page`'s browser. */
export async function addVirtualAuthenticator(context: BrowserContext, page: Page): Promise<VirtualAuthenticator> {
  const session = await context.newCDPSession(page);
  await session.send('WebAuthn.enable');
  const { authenticatorId } = await session.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'usb',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { session, authenticatorId };
}

/** Returns the credentials the authenticator holds, to carry them into a restarted browser. */
export async function credentialsOf(authenticator: VirtualAuthenticator): Promise<unknown[]> {
  const { credentials } = await authenticator.session.send('WebAuthn.getCredentials', {
    authenticatorId: authenticator.authenticatorId,
  });
  return credentials;
}

/** Puts credentials read with `credentialsOf` into another authenticator. */
export async function addCredentials(authenticator: VirtualAuthenticator, credentials: unknown[]): Promise<void> {
  for (const credential of credentials) {
    await authenticator.session.send('WebAuthn.addCredential', {
      authenticatorId: authenticator.authenticatorId,
      credential: credential as never,
    });
  }
}
