//! The command line against a real database: every user command, import-users, hash-password and
//! config check, each on SQLite and on PostgreSQL.

mod common;

use common::{stderr, stdout, Backend, Instance};
use serde_json::{json, Value};

/// Instantiates each named test once per database: `name::sqlite` and `name::postgres`.
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(super::Backend::Sqlite);
                }

                #[test]
                fn postgres() {
                    super::$name(super::Backend::Postgres);
                }
            }
        )+
    };
}

on_both_databases!(
    add_then_list_json,
    add_refuses_duplicates,
    add_refuses_bad_input,
    unknown_user_is_refused,
    disable_and_enable,
    groups_replaced_and_cleared,
    totp_generate_prints_uri,
    import_users_is_idempotent,
    import_users_refuses_bad_file,
);

const ALICE_PASSWORD: &str = "correct-horse-1\n";

fn add_alice(instance: &Instance) {
    let output = instance.cli(
        &[
            "user",
            "add",
            "Alice",
            "--email",
            "Alice@Example.com",
            "--name",
            "Alice Example",
            "--groups",
            "dev,ops",
            "--password-stdin",
        ],
        Some(ALICE_PASSWORD),
    );
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "created user alice");
}

fn list_json(instance: &Instance) -> Value {
    let output = instance.cli(&["user", "list", "--json"], None);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("user list --json prints JSON")
}

fn add_then_list_json(backend: Backend) {
    let instance = Instance::new(backend, "");
    add_alice(&instance);
    if backend == Backend::Sqlite {
        use std::os::unix::fs::PermissionsExt;
        let database = instance.directory.path().join("gatehouse.sqlite3");
        let mode = std::fs::metadata(&database)
            .expect("the database exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the database holds password hashes");
    }
    assert_eq!(
        list_json(&instance),
        json!([{
            "username": "alice",
            "display_name": "Alice Example",
            "email": "alice@example.com",
            "groups": ["dev", "ops"],
            "disabled": false,
        }])
    );
}

fn add_refuses_duplicates(backend: Backend) {
    let instance = Instance::new(backend, "");
    add_alice(&instance);

    let same_name = instance.cli(
        &[
            "user",
            "add",
            "ALICE",
            "--email",
            "other@example.com",
            "--name",
            "Other",
            "--password-stdin",
        ],
        Some("another-password\n"),
    );
    assert_eq!(same_name.status.code(), Some(1));
    assert!(
        stderr(&same_name).contains("alice"),
        "stderr: {}",
        stderr(&same_name)
    );

    let same_email = instance.cli(
        &[
            "user",
            "add",
            "bob",
            "--email",
            "alice@example.com",
            "--name",
            "Bob",
            "--password-stdin",
        ],
        Some("another-password\n"),
    );
    assert_eq!(same_email.status.code(), Some(1));
    assert!(
        stderr(&same_email).contains("e-mail"),
        "stderr: {}",
        stderr(&same_email)
    );

    let users = list_json(&instance);
    assert_eq!(
        users.as_array().map(Vec::len),
        Some(1),
        "nothing was added: {users}"
    );
}

fn add_refuses_bad_input(backend: Backend) {
    let instance = Instance::new(backend, "");
    let cases: [(&[&str], &str, &str); 5] = [
        (
            &[
                "user",
                "add",
                "carol",
                "--email",
                "carol@example.com",
                "--name",
                "Carol",
                "--password-stdin",
            ],
            "\n",
            "empty",
        ),
        (
            &[
                "user",
                "add",
                "carol",
                "--email",
                "carol@example.com",
                "--name",
                "Carol\r\nRemote-User: bob",
                "--password-stdin",
            ],
            "pw\n",
            "control character",
        ),
        (
            &[
                "user",
                "add",
                "carol",
                "--email",
                "not-an-address",
                "--name",
                "Carol",
                "--password-stdin",
            ],
            "pw\n",
            "e-mail",
        ),
        (
            &[
                "user",
                "add",
                "carol:x",
                "--email",
                "carol@example.com",
                "--name",
                "Carol",
                "--password-stdin",
            ],
            "pw\n",
            "username",
        ),
        (
            &[
                "user",
                "add",
                "carol",
                "--email",
                "carol@example.com",
                "--name",
                "Carol",
                "--groups",
                "ops\tteam",
                "--password-stdin",
            ],
            "pw\n",
            "group",
        ),
    ];
    for (args, stdin_text, expected) in cases {
        let output = instance.cli(args, Some(stdin_text));
        assert_eq!(
            output.status.code(),
            Some(1),
            "args {args:?} must be refused"
        );
        let message = stderr(&output);
        assert_eq!(
            message.lines().count(),
            1,
            "one line on standard error: {message}"
        );
        assert!(
            message.to_lowercase().contains(expected),
            "{args:?}: {message}"
        );
    }
    assert_eq!(
        list_json(&instance),
        json!([]),
        "a refused command changes nothing"
    );

    let missing_flag = instance.cli(
        &[
            "user",
            "add",
            "carol",
            "--email",
            "carol@example.com",
            "--name",
            "Carol",
        ],
        None,
    );
    assert_eq!(
        missing_flag.status.code(),
        Some(2),
        "a usage error exits with 2"
    );
}

fn unknown_user_is_refused(backend: Backend) {
    let instance = Instance::new(backend, "");
    for args in [
        &["user", "passwd", "ghost", "--password-stdin"][..],
        &["user", "disable", "ghost"][..],
        &["user", "enable", "ghost"][..],
        &["user", "groups", "ghost", "--set", "dev"][..],
        &["user", "totp", "generate", "ghost"][..],
    ] {
        let output = instance.cli(args, Some("a-password\n"));
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(
            stderr(&output).trim(),
            "gatehouse: user \"ghost\" not found",
            "{args:?}"
        );
    }
}

fn disable_and_enable(backend: Backend) {
    let instance = Instance::new(backend, "");
    add_alice(&instance);

    let output = instance.cli(&["user", "disable", "alice"], None);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(list_json(&instance)[0]["disabled"], json!(true));

    let output = instance.cli(&["user", "enable", "ALICE"], None);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(list_json(&instance)[0]["disabled"], json!(false));

    let output = instance.cli(
        &["user", "passwd", "alice", "--password-stdin"],
        Some("a-new-password\r\n"),
    );
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
}

fn groups_replaced_and_cleared(backend: Backend) {
    let instance = Instance::new(backend, "");
    add_alice(&instance);

    let output = instance.cli(&["user", "groups", "alice", "--set", "admins,dev"], None);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(list_json(&instance)[0]["groups"], json!(["admins", "dev"]));

    let output = instance.cli(&["user", "groups", "alice", "--set", ""], None);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(list_json(&instance)[0]["groups"], json!([]));

    let output = instance.cli(
        &["user", "groups", "alice", "--set", "bad\u{7f}group"],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        list_json(&instance)[0]["groups"],
        json!([]),
        "a refused change keeps the groups"
    );
}

fn totp_generate_prints_uri(backend: Backend) {
    let instance = Instance::new(backend, "");
    add_alice(&instance);

    let output = instance.cli(
        &[
            "user",
            "totp",
            "generate",
            "alice",
            "--secret",
            "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(
        stdout(&output).trim(),
        "otpauth://totp/Gatehouse%3Aalice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30"
    );

    let generated = instance.cli(&["user", "totp", "generate", "alice"], None);
    assert_eq!(
        generated.status.code(),
        Some(0),
        "stderr: {}",
        stderr(&generated)
    );
    let uri = stdout(&generated);
    let secret = uri
        .split("secret=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .unwrap_or("");
    // totp.secret_size defaults to 32 bytes: 256 bits are 52 base32 characters without padding.
    assert_eq!(secret.len(), 52, "uri: {uri}");

    let short = instance.cli(
        &[
            "user",
            "totp",
            "generate",
            "alice",
            "--secret",
            "JBSWY3DPEHPK3PXP",
        ],
        None,
    );
    assert_eq!(short.status.code(), Some(1));
    assert!(stderr(&short).contains("160 bits"), "{}", stderr(&short));
}

const USERS_FILE: &str = "users:
  john:
    displayname: 'John Doe'
    password: '$argon2id$v=19$m=256,t=2,p=1$MrDDXlJacjkyKWl3J3qjTw$f8hZBmeUafjsLKSo7VF5JUUmzAPd3y0fUfbwMZocHuA'
    email: john@example.com
    groups: [admins, dev]
  Zoe:
    displayname: 'Zoë Ålvarez-Nuñez'
    password: '$6$rounds=1000$ZYFxb3nXeBwtWtmR$qbo4KXbj10X5cr/XeMORkjU4OQArS1LOqb9vWMtLPlzdX4rlRdrI67j1Z6MY53XLNvsaL7mupFyuL6a1Ie3Wy.'
    email: zoe@example.com
    groups: ['dev', 'ops team']
    disabled: true
";

fn import_users_is_idempotent(backend: Backend) {
    let instance = Instance::new(backend, "");
    let file = instance.directory.path().join("users_database.yml");
    std::fs::write(&file, USERS_FILE).expect("write the users file");
    let file_arg = file.to_str().expect("UTF-8 path");

    let first = instance.cli(&["import-users", file_arg], None);
    assert_eq!(first.status.code(), Some(0), "stderr: {}", stderr(&first));
    assert!(
        stdout(&first).ends_with(": 2 created, 0 updated, 0 unchanged\n"),
        "{}",
        stdout(&first)
    );

    let second = instance.cli(&["import-users", file_arg], None);
    assert_eq!(second.status.code(), Some(0), "stderr: {}", stderr(&second));
    assert!(
        stdout(&second).ends_with(": 0 created, 0 updated, 2 unchanged\n"),
        "{}",
        stdout(&second)
    );

    std::fs::write(&file, USERS_FILE.replace("'John Doe'", "'John Q. Doe'"))
        .expect("rewrite the users file");
    let third = instance.cli(&["import-users", file_arg], None);
    assert!(
        stdout(&third).ends_with(": 0 created, 1 updated, 1 unchanged\n"),
        "{}",
        stdout(&third)
    );

    assert_eq!(
        list_json(&instance),
        json!([
            {"username": "john", "display_name": "John Q. Doe", "email": "john@example.com", "groups": ["admins", "dev"], "disabled": false},
            {"username": "zoe", "display_name": "Zoë Ålvarez-Nuñez", "email": "zoe@example.com", "groups": ["dev", "ops team"], "disabled": true},
        ])
    );
}

fn import_users_refuses_bad_file(backend: Backend) {
    let instance = Instance::new(backend, "");
    add_alice(&instance);
    let file = instance.directory.path().join("users_database.yml");
    let bad = format!(
        "{USERS_FILE}  mallory:\n    displayname: \"Mallory\\r\\nRemote-Groups: admins\"\n    password: '$argon2id$v=19$m=256,t=2,p=1$MrDDXlJacjkyKWl3J3qjTw$f8hZBmeUafjsLKSo7VF5JUUmzAPd3y0fUfbwMZocHuA'\n"
    );
    std::fs::write(&file, bad).expect("write the users file");

    let output = instance.cli(&["import-users", file.to_str().expect("UTF-8 path")], None);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("users.mallory.displayname"), "{message}");
    assert!(
        !message.contains("$argon2id"),
        "no hash in the message: {message}"
    );
    let users = list_json(&instance);
    assert_eq!(
        users.as_array().map(Vec::len),
        Some(1),
        "nothing was imported: {users}"
    );

    let missing = instance.cli(&["import-users", "/nonexistent/users.yml"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("cannot read /nonexistent/users.yml"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn hash_password_writes_argon2id() {
    let output = common::run_binary(
        None,
        &["hash-password", "--password-stdin"],
        Some("s3cr:t:pass\n"),
    );
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let hash = stdout(&output).trim().to_owned();
    assert!(
        hash.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"),
        "{hash}"
    );
    let verified =
        gatehouse::identity::hashing::verify_password("s3cr:t:pass", &hash).expect("a valid hash");
    assert!(verified.matches);
    let wrong =
        gatehouse::identity::hashing::verify_password("s3cr:t", &hash).expect("a valid hash");
    assert!(!wrong.matches);

    let empty = common::run_binary(None, &["hash-password", "--password-stdin"], Some(""));
    assert_eq!(empty.status.code(), Some(1));
    assert!(stderr(&empty).contains("empty"), "{}", stderr(&empty));
}

#[test]
fn config_check_reports_key_paths() {
    let instance = Instance::new(
        Backend::Sqlite,
        "access_control:
  default_policy: deny
  rules:
    - domain: 'app.example.com'
      resources: ['\\.(css|js)$']
      policy: bypass
    - domain: 'admin.example.com'
      resource: ['^/admin']
      policy: one_factor
",
    );
    let config = instance.config_path.to_str().expect("UTF-8 path");
    let output = common::run_binary(None, &["config", "check", config], None);
    assert_eq!(output.status.code(), Some(1), "stdout: {}", stdout(&output));
    let report = stdout(&output);
    assert!(
        report.contains("error: access_control.rules[1].resource:"),
        "{report}"
    );
    assert!(
        report.contains("warning: access_control.rules[0].resources[0]:"),
        "{report}"
    );

    let valid = Instance::new(Backend::Sqlite, "");
    let output = common::run_binary(
        None,
        &[
            "config",
            "check",
            valid.config_path.to_str().expect("UTF-8 path"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "stdout: {}", stdout(&output));
    assert!(stdout(&output).contains("configuration is valid"));

    let no_file = common::run_binary(None, &["config", "check"], None);
    assert_eq!(no_file.status.code(), Some(2), "a usage error exits with 2");
}
