//! `gatehouse access check` run as a binary against a small rule set: text and JSON output,
//! the default policy, subject rules with and without a user, canonical hosts and paths, and
//! rejected input.

mod common;

use std::process::Output;

use common::{stderr, stdout, Backend, Instance};

const RULES: &str = "access_control:
  default_policy: deny
  rules:
    - domain: 'public.example.com'
      policy: bypass
    - domain: 'admin.example.com'
      subject: 'group:admins'
      policy: two_factor
    - domain: '*.example.com'
      networks: ['10.0.0.0/8']
      policy: one_factor
    - domain: 'api.example.com'
      methods: ['GET']
      resources: ['^/v1/']
      policy: one_factor
";

fn instance() -> Instance {
    Instance::new(Backend::Sqlite, RULES)
}

/// Runs `gatehouse access check ARGS…` and returns its standard output. Fails the test unless
/// the command exits with status 0.
fn check(instance: &Instance, args: &[&str]) -> String {
    let output = run_check(instance, args);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    stdout(&output)
}

fn run_check(instance: &Instance, args: &[&str]) -> Output {
    let mut full = vec!["access", "check"];
    full.extend_from_slice(args);
    instance.cli(&full, None)
}

#[test]
fn json_names_rule_index() {
    let instance = instance();
    let output = check(
        &instance,
        &["--url", "https://public.example.com/", "--json"],
    );
    assert_eq!(output, "{\"policy\":\"bypass\",\"rule\":0}\n");
}

#[test]
fn text_names_rule_key_path() {
    let instance = instance();
    let output = check(&instance, &["--url", "https://api.example.com/v1/items"]);
    assert_eq!(output, "policy: one_factor (access_control.rules[3])\n");
}

#[test]
fn default_policy_has_null_rule() {
    let instance = instance();
    let text = check(&instance, &["--url", "https://other.example.net/"]);
    assert_eq!(text, "policy: deny (default policy)\n");
    let json = check(
        &instance,
        &["--url", "https://other.example.net/", "--json"],
    );
    assert_eq!(json, "{\"policy\":\"deny\",\"rule\":null}\n");
}

#[test]
fn subject_rule_stops_anonymous() {
    let instance = instance();
    let json = check(
        &instance,
        &["--url", "https://admin.example.com/", "--json"],
    );
    assert_eq!(json, "{\"policy\":\"two_factor\",\"rule\":1}\n");

    let text = check(&instance, &["--url", "https://admin.example.com/"]);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("policy: two_factor (access_control.rules[1])")
    );
    let note = lines.next().expect("a note about the subject rule");
    assert!(
        note.starts_with("note: this rule depends on the user"),
        "{note}"
    );
}

#[test]
fn subject_rule_with_username() {
    let instance = instance();
    let url = "https://admin.example.com/";
    let bob = check(
        &instance,
        &[
            "--url",
            url,
            "--username",
            "Bob",
            "--groups",
            "admins",
            "--json",
        ],
    );
    assert_eq!(bob, "{\"policy\":\"two_factor\",\"rule\":1}\n");

    let alice = check(
        &instance,
        &[
            "--url",
            url,
            "--username",
            "alice",
            "--groups",
            "dev,ops",
            "--json",
        ],
    );
    assert_eq!(alice, "{\"policy\":\"deny\",\"rule\":null}\n");

    let alice_inside = check(
        &instance,
        &[
            "--url",
            url,
            "--username",
            "alice",
            "--groups",
            "dev",
            "--ip",
            "10.1.2.3",
            "--json",
        ],
    );
    assert_eq!(alice_inside, "{\"policy\":\"one_factor\",\"rule\":2}\n");

    let text = check(&instance, &["--url", url, "--username", "alice"]);
    assert_eq!(text, "policy: deny (default policy)\n");
}

#[test]
fn url_is_put_in_canonical_form() {
    let instance = instance();
    let host = check(
        &instance,
        &[
            "--url",
            "https://ADMIN.Example.COM.:443/",
            "--username",
            "bob",
            "--groups",
            "admins",
            "--json",
        ],
    );
    assert_eq!(host, "{\"policy\":\"two_factor\",\"rule\":1}\n");

    let path = check(
        &instance,
        &["--url", "https://api.example.com//x/..//v1/items", "--json"],
    );
    assert_eq!(path, "{\"policy\":\"one_factor\",\"rule\":3}\n");
}

#[test]
fn method_and_override_checked() {
    let instance = instance();
    let url = "https://api.example.com/v1/items";
    let post = check(&instance, &["--url", url, "--method", "POST", "--json"]);
    assert_eq!(post, "{\"policy\":\"deny\",\"rule\":null}\n");

    let overridden = format!("{url}?_method=DELETE");
    let output = check(&instance, &["--url", &overridden, "--json"]);
    assert_eq!(output, "{\"policy\":\"deny\",\"rule\":null}\n");
}

#[test]
fn bad_input_exits_one() {
    let instance = instance();
    let cases: [(&[&str], &str); 5] = [
        (&["--url", "app.example.com/x"], "invalid --url"),
        (&["--url", "https://app.example.com/%zz"], "invalid --url"),
        (
            &["--url", "https://app.example.com/", "--method", "get"],
            "invalid --method",
        ),
        (
            &["--url", "https://app.example.com/", "--ip", "10.0.0.300"],
            "invalid --ip",
        ),
        (
            &["--url", "https://app.example.com/", "--username", ""],
            "invalid --username",
        ),
    ];
    for (args, expected) in cases {
        let output = run_check(&instance, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
        assert!(message.contains(expected), "{args:?}: {message}");
        assert_eq!(stdout(&output), "", "{args:?}");
    }
}

#[test]
fn groups_need_username() {
    let instance = instance();
    let output = run_check(
        &instance,
        &["--url", "https://app.example.com/", "--groups", "dev"],
    );
    assert_eq!(output.status.code(), Some(2), "stderr: {}", stderr(&output));
}
