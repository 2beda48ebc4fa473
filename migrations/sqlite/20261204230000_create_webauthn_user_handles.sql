-- The WebAuthn user handle of each user, made at the user's first registration and reused
-- afterwards. Stored because an authenticator keeps the handle it was given, and a handle
-- derived from a secret again at each use would change when the secret is rotated. Keyed by user
-- name, like every per-user table, so users of a users file get one too.
CREATE TABLE webauthn_user_handles (
    username TEXT PRIMARY KEY NOT NULL,
    user_handle BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
