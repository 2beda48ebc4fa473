-- Second-factor ceremonies in progress: a TOTP enrolment waiting for its first code, and the
-- state of WebAuthn registrations and assertions between their two requests. Each row is bound to
-- a session (the SHA-256 hex of its id) or, for a passkey login that has no session yet, to the
-- SHA-256 hex of a random handle sent in a cookie. The state is AES-256-GCM ciphertext. Kept in
-- the database so that the second request may reach another instance.
CREATE TABLE pending_ceremonies (
    binding TEXT NOT NULL,
    kind TEXT NOT NULL,
    username TEXT,
    state BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (binding, kind)
);

-- Deletes expired ceremonies.
CREATE INDEX pending_ceremonies_expires_at ON pending_ceremonies (expires_at);
