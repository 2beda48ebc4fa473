-- Gatehouse schema, SQLite dialect. The PostgreSQL file of the same name creates the same tables.
-- Times are milliseconds since the Unix epoch, written by the server's clock.

-- Key/value settings of the database itself, such as the encryption key check value.
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Users of the database backend; the caller stores usernames lower-cased.
CREATE TABLE users (
    username TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL,
    email TEXT UNIQUE,
    password_hash TEXT NOT NULL,
    password_version INTEGER NOT NULL DEFAULT 1,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    preferred_2fa_method TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Groups by name; names are case-sensitive.
CREATE TABLE groups (
    name TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL
);

-- Group memberships of database users.
CREATE TABLE user_groups (
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    PRIMARY KEY (username, group_name)
);

-- Finds the members of a group.
CREATE INDEX user_groups_group_name ON user_groups (group_name);

-- Sessions keyed by the SHA-256 hex of the session id; username has no foreign key because
-- users of the file backend are not in the users table.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    username TEXT,
    cookie_domain TEXT NOT NULL,
    level INTEGER NOT NULL CHECK (level IN (0, 1, 2)),
    remember_me BOOLEAN NOT NULL,
    first_factor_at INTEGER,
    second_factor_at INTEGER,
    created_at INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    profile_refreshed_at INTEGER NOT NULL,
    elevated_until INTEGER,
    elevated_ip TEXT,
    data TEXT NOT NULL DEFAULT '{}'
);

-- Finds every session of a user, to end or update them together.
CREATE INDEX sessions_username ON sessions (username);

-- One TOTP configuration per user; the secret is AES-256-GCM ciphertext.
CREATE TABLE totp_configurations (
    username TEXT PRIMARY KEY NOT NULL,
    issuer TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    digits INTEGER NOT NULL,
    period INTEGER NOT NULL,
    secret BLOB NOT NULL,
    last_used_step INTEGER,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);

-- WebAuthn credentials (security keys and passkeys) with the RP ID they were registered under.
CREATE TABLE webauthn_credentials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    rp_id TEXT NOT NULL,
    description TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    aaguid TEXT,
    attestation_type TEXT NOT NULL,
    transports TEXT NOT NULL DEFAULT '[]',
    sign_count INTEGER NOT NULL DEFAULT 0,
    discoverable BOOLEAN NOT NULL,
    user_verified BOOLEAN NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);

-- Lists a user's credentials.
CREATE INDEX webauthn_credentials_username ON webauthn_credentials (username);

-- First- and second-factor attempts that regulation counts.
CREATE TABLE authentication_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    account_key TEXT NOT NULL,
    successful BOOLEAN NOT NULL,
    banned BOOLEAN NOT NULL,
    factor TEXT NOT NULL CHECK (factor IN ('1fa', '2fa')),
    method TEXT NOT NULL,
    remote_ip TEXT,
    request_uri TEXT NOT NULL,
    request_method TEXT NOT NULL
);

-- Finds an account's newest attempts.
CREATE INDEX authentication_attempts_account_key_time
    ON authentication_attempts (account_key, time);

-- Finds an IP address's newest attempts.
CREATE INDEX authentication_attempts_remote_ip_time ON authentication_attempts (remote_ip, time);

-- Deletes old attempts in housekeeping.
CREATE INDEX authentication_attempts_time ON authentication_attempts (time);

-- Bans of a user (account key) or an IP address; expires_at NULL means until revoked.
CREATE TABLE bans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'ip')),
    value TEXT NOT NULL,
    expires_at INTEGER,
    source TEXT NOT NULL CHECK (source IN ('regulation', 'admin')),
    reason TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- Finds the bans of one user or address.
CREATE INDEX bans_kind_value ON bans (kind, value);

-- Single-use tokens (reset links, one-time codes), stored only as hashes.
CREATE TABLE one_time_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    purpose TEXT NOT NULL,
    username TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    consumed_at INTEGER,
    revoked_at INTEGER
);

-- Deletes expired tokens in housekeeping.
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);

-- Append-only record of security-relevant actions.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    subject TEXT,
    remote_ip TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);

-- Lists the newest events.
CREATE INDEX audit_events_time ON audit_events (time);
