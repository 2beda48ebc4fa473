//! Decision tests: each rule field and query operator, the label rules of host patterns, the
//! host index, and the decisions of the field cases (hosts in capitals, dot segments, wildcard
//! boundaries, trailing dots, query-satisfied resources, methods, anonymous subject rules).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::config::{self, AccessControlConfig, Policy, Rule};

use super::rule::eq_ignore_case;
use super::*;

use Policy::{Bypass, Deny, OneFactor, TwoFactor};

/// Loads `access_yaml` (an `access_control` section, optionally with `definitions`) on top of
/// the smallest valid configuration, then compiles its rules.
fn engine(access_yaml: &str) -> AccessControl {
    let yaml = format!(
        "session:
  secret: 'test-session-secret-0123456789abcdef-XYZ'
  cookies:
    - domain: example.com
      authelia_url: https://auth.example.com/
storage:
  encryption_key: 'test-storage-key-0123456789abcdef-XYZ'
  local:
    path: /var/lib/gatehouse/db.sqlite3
notifier:
  filesystem:
    filename: /tmp/gatehouse-notifications.txt
identity_validation:
  reset_password:
    jwt_secret: 'test-jwt-secret-0123456789abcdef-XYZ'
{access_yaml}"
    );
    let loaded = match config::load_str(&yaml, &HashMap::new()) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("the test configuration is invalid:\n{errors}"),
    };
    AccessControl::compile(&loaded.config.access_control).expect("the rules compile")
}

/// A request target in canonical form, owning what [`Request`] borrows.
#[derive(Debug, Clone)]
struct Target {
    host: String,
    method: String,
    overrides: Vec<String>,
    path: String,
    resource: String,
    query: Vec<(String, String)>,
    client_ip: Option<IpAddr>,
}

impl Target {
    /// Builds a GET to `host` with `path_and_query`, whose path is already canonical. The
    /// client IP is unknown.
    fn new(host: &str, path_and_query: &str) -> Target {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, raw)) => (path, Some(raw)),
            None => (path_and_query, None),
        };
        Target {
            host: host.to_owned(),
            method: "GET".to_owned(),
            overrides: Vec::new(),
            path: path.to_owned(),
            resource: path_and_query.to_owned(),
            query: query
                .map(|raw| {
                    url::form_urlencoded::parse(raw.as_bytes())
                        .into_owned()
                        .collect()
                })
                .unwrap_or_default(),
            client_ip: None,
        }
    }

    fn method(mut self, method: &str) -> Target {
        self.method = method.to_owned();
        self
    }

    fn overrides(mut self, overrides: &[&str]) -> Target {
        self.overrides = overrides.iter().map(|name| (*name).to_owned()).collect();
        self
    }

    fn ip(mut self, address: &str) -> Target {
        self.client_ip = Some(address.parse().expect("a valid test address"));
        self
    }

    fn request(&self) -> Request<'_> {
        Request {
            host: &self.host,
            method: &self.method,
            method_overrides: &self.overrides,
            path: &self.path,
            resource: &self.resource,
            query: &self.query,
            client_ip: self.client_ip,
        }
    }
}

/// An identified user, owning the groups [`Subject::User`] borrows.
struct User {
    name: &'static str,
    groups: Vec<String>,
}

fn user(name: &'static str, groups: &[&str]) -> User {
    User {
        name,
        groups: groups.iter().map(|group| (*group).to_owned()).collect(),
    }
}

impl User {
    fn subject(&self) -> Subject<'_> {
        Subject::User {
            username: self.name,
            groups: &self.groups,
        }
    }
}

fn alice() -> User {
    user("alice", &["dev"])
}

fn bob() -> User {
    user("bob", &["admins"])
}

fn decide(engine: &AccessControl, target: &Target, subject: &Subject<'_>) -> Decision {
    engine.decide(&target.request(), subject)
}

fn anonymous(engine: &AccessControl, target: &Target) -> Decision {
    decide(engine, target, &Subject::Anonymous)
}

fn matched(policy: Policy, rule: usize) -> Decision {
    Decision {
        policy,
        rule: Some(rule),
        subject_rule: false,
    }
}

fn matched_subject_rule(policy: Policy, rule: usize) -> Decision {
    Decision {
        policy,
        rule: Some(rule),
        subject_rule: true,
    }
}

fn default(policy: Policy) -> Decision {
    Decision {
        policy,
        rule: None,
        subject_rule: false,
    }
}

/// The shared rules of the field cases: a bypassed, a one-factor and a two-factor host.
const SHARED_RULES: &str = "
access_control:
  default_policy: deny
  rules:
    - domain: 'public.example.com'
      policy: bypass
    - domain: 'app.example.com'
      policy: one_factor
    - domain: 'secure.example.com'
      policy: two_factor
";

#[test]
fn shared_rules_decide_by_host() {
    let engine = engine(SHARED_RULES);
    let cases = [
        ("public.example.com", matched(Bypass, 0)),
        ("app.example.com", matched(OneFactor, 1)),
        ("secure.example.com", matched(TwoFactor, 2)),
        ("other.example.com", default(Deny)),
    ];
    for (host, expected) in cases {
        let target = Target::new(host, "/");
        assert_eq!(anonymous(&engine, &target), expected, "anonymous on {host}");
        assert_eq!(
            decide(&engine, &target, &alice().subject()),
            expected,
            "alice on {host}"
        );
    }
}

// Hosts in capitals (canonical hosts are lower-case, rules are lower-cased at load).

const ADMIN_BY_GROUP: &str = "
access_control:
  default_policy: deny
  rules:
    - domain: 'ADMIN.Example.com'
      subject: 'group:admins'
      policy: one_factor
    - domain: 'admin.example.com'
      policy: deny
    - domain: '*.example.com'
      policy: one_factor
";

#[test]
fn capitals_host_rules_by_group() {
    let engine = engine(ADMIN_BY_GROUP);
    let target = Target::new("admin.example.com", "/");
    assert_eq!(
        decide(&engine, &target, &alice().subject()),
        matched(Deny, 1)
    );
    assert_eq!(
        decide(&engine, &target, &bob().subject()),
        matched_subject_rule(OneFactor, 0)
    );
    assert_eq!(
        anonymous(&engine, &target),
        matched_subject_rule(OneFactor, 0)
    );
}

// Dot segments and extra slashes are gone from the canonical path that rules match.

const PATH_RULES: &str = "
access_control:
  default_policy: deny
  rules:
    - domain: 'app.example.com'
      resources: ['^/public/']
      policy: bypass
    - domain: 'app.example.com'
      resources: ['^/admin([/?].*)?$']
      policy: deny
    - domain: 'app.example.com'
      policy: one_factor
";

#[test]
fn canonical_paths_meet_resource_rules() {
    let engine = engine(PATH_RULES);
    // The canonical forms of //admin, /./admin, /x/../admin, /admin/. and ///admin/users.
    for path in ["/admin", "/admin/", "/admin/users", "/admin?x=1"] {
        let target = Target::new("app.example.com", path);
        assert_eq!(
            decide(&engine, &target, &alice().subject()),
            matched(Deny, 1),
            "alice on {path}"
        );
        assert_eq!(
            anonymous(&engine, &target),
            matched(Deny, 1),
            "anonymous on {path}"
        );
    }
    // /public/../admin/users is /admin/users, and /public/./../secret is /secret.
    let secret = Target::new("app.example.com", "/secret");
    assert_eq!(anonymous(&engine, &secret), matched(OneFactor, 2));
    let public = Target::new("app.example.com", "/public/style.css");
    assert_eq!(anonymous(&engine, &public), matched(Bypass, 0));
    let administrator = Target::new("app.example.com", "/administrator");
    assert_eq!(anonymous(&engine, &administrator), matched(OneFactor, 2));
}

// Wildcards match whole labels.

#[test]
fn wildcard_matches_whole_labels() {
    let engine = engine(
        "
access_control:
  default_policy: deny
  rules:
    - domain: '*.example.com'
      policy: one_factor
",
    );
    let cases = [
        ("app.example.com", matched(OneFactor, 0)),
        ("a.b.example.com", matched(OneFactor, 0)),
        ("example.com", default(Deny)),
        ("evilexample.com", default(Deny)),
        ("xexample.com", default(Deny)),
        ("example.com.evil.net", default(Deny)),
        ("app.example.community", default(Deny)),
        ("com", default(Deny)),
    ];
    for (host, expected) in cases {
        let target = Target::new(host, "/");
        assert_eq!(anonymous(&engine, &target), expected, "anonymous on {host}");
        assert_eq!(
            decide(&engine, &target, &alice().subject()),
            expected,
            "alice on {host}"
        );
    }
}

// A rule written with a trailing dot names the same host as one without.

#[test]
fn trailing_dot_rule_matches_host() {
    let engine = engine(
        "
access_control:
  default_policy: deny
  rules:
    - domain: 'admin.example.com.'
      policy: two_factor
    - domain: '*.example.com.'
      policy: one_factor
",
    );
    let admin = Target::new("admin.example.com", "/");
    assert_eq!(
        decide(&engine, &admin, &alice().subject()),
        matched(TwoFactor, 0)
    );
    let app = Target::new("app.example.com", "/");
    assert_eq!(
        decide(&engine, &app, &alice().subject()),
        matched(OneFactor, 1)
    );
    let bare = Target::new("example.com", "/");
    assert_eq!(decide(&engine, &bare, &alice().subject()), default(Deny));
}

// Resources see the query string too (Authelia's meaning), so only anchored patterns keep a
// bypass to the path.

#[test]
fn unanchored_resource_matches_query() {
    let engine = engine(
        r"
access_control:
  default_policy: deny
  rules:
    - domain: 'app.example.com'
      resources: ['\.(css|js|png)$']
      policy: bypass
    - domain: 'app.example.com'
      policy: two_factor
",
    );
    let cases = [
        ("/static/site.css", matched(Bypass, 0)),
        ("/admin/export", matched(TwoFactor, 1)),
        ("/admin/export?format=x.css", matched(Bypass, 0)),
    ];
    for (path, expected) in cases {
        let target = Target::new("app.example.com", path);
        assert_eq!(anonymous(&engine, &target), expected, "{path}");
    }
}

#[test]
fn anchored_resource_ignores_query() {
    let engine = engine(
        r"
access_control:
  default_policy: deny
  rules:
    - domain: 'app.example.com'
      resources: ['^[^?]*\.(css|js|png)(\?.*)?$']
      policy: bypass
    - domain: 'app.example.com'
      policy: two_factor
",
    );
    let cases = [
        ("/admin/export?format=x.css", matched(TwoFactor, 1)),
        ("/admin/export?.js", matched(TwoFactor, 1)),
        ("/static/site.css?v=3", matched(Bypass, 0)),
        ("/static/site.css", matched(Bypass, 0)),
    ];
    for (path, expected) in cases {
        let target = Target::new("app.example.com", path);
        assert_eq!(anonymous(&engine, &target), expected, "{path}");
    }
}

// Method rules read the target's method.

const METHOD_RULES: &str = "
access_control:
  default_policy: deny
  rules:
    - domain: 'api.example.com'
      methods: ['OPTIONS']
      policy: bypass
    - domain: 'api.example.com'
      methods: ['GET', 'HEAD']
      policy: one_factor
    - domain: 'api.example.com'
      policy: two_factor
";

#[test]
fn methods_pick_rule() {
    let engine = engine(METHOD_RULES);
    let target = |method: &str| Target::new("api.example.com", "/v1/items").method(method);
    assert_eq!(anonymous(&engine, &target("OPTIONS")), matched(Bypass, 0));
    assert_eq!(anonymous(&engine, &target("POST")), matched(TwoFactor, 2));
    let alice = alice();
    assert_eq!(
        decide(&engine, &target("GET"), &alice.subject()),
        matched(OneFactor, 1)
    );
    assert_eq!(
        decide(&engine, &target("HEAD"), &alice.subject()),
        matched(OneFactor, 1)
    );
    assert_eq!(
        decide(&engine, &target("POST"), &alice.subject()),
        matched(TwoFactor, 2)
    );
    // The target parser rejects a lower-case method; were one to arrive, it matches no list.
    assert_eq!(
        decide(&engine, &target("get"), &alice.subject()),
        matched(TwoFactor, 2)
    );
}

#[test]
fn method_overrides_must_all_be_listed() {
    let engine = engine(METHOD_RULES);
    let target = Target::new("api.example.com", "/v1/items");
    let cases: [(&str, &[&str], Decision); 6] = [
        ("GET", &[], matched(OneFactor, 1)),
        ("GET", &["DELETE"], matched(TwoFactor, 2)),
        ("GET", &["HEAD"], matched(OneFactor, 1)),
        ("GET", &["HEAD", "DELETE"], matched(TwoFactor, 2)),
        ("OPTIONS", &["POST"], matched(TwoFactor, 2)),
        ("POST", &["GET"], matched(TwoFactor, 2)),
    ];
    for (method, overrides, expected) in cases {
        let target = target.clone().method(method).overrides(overrides);
        assert_eq!(
            decide(&engine, &target, &alice().subject()),
            expected,
            "{method} with overrides {overrides:?}"
        );
    }
}

// Anonymous users stop at the first rule some user could satisfy.

const SUBJECT_RULES: &str = r"
access_control:
  default_policy: deny
  rules:
    - domain: 'admin.example.com'
      subject: 'group:admins'
      policy: one_factor
    - domain_regex: '^(?P<User>\w+)\.home\.example\.com$'
      policy: one_factor
";

#[test]
fn anonymous_stops_at_subject_rule() {
    let engine = engine(SUBJECT_RULES);
    let admin = Target::new("admin.example.com", "/");
    let alice_home = Target::new("alice.home.example.com", "/");
    let bob_home = Target::new("bob.home.example.com", "/");
    let other = Target::new("other.example.com", "/");

    assert_eq!(
        anonymous(&engine, &admin),
        matched_subject_rule(OneFactor, 0)
    );
    assert_eq!(
        anonymous(&engine, &alice_home),
        matched_subject_rule(OneFactor, 1)
    );
    assert_eq!(decide(&engine, &admin, &alice().subject()), default(Deny));
    assert_eq!(
        decide(&engine, &admin, &bob().subject()),
        matched_subject_rule(OneFactor, 0)
    );
    assert_eq!(
        decide(&engine, &alice_home, &alice().subject()),
        matched_subject_rule(OneFactor, 1)
    );
    assert_eq!(
        decide(&engine, &bob_home, &alice().subject()),
        default(Deny)
    );
    assert_eq!(anonymous(&engine, &other), default(Deny));
}

#[test]
fn anonymous_subject_deny_rule_is_subject_rule() {
    let engine = engine(
        "
access_control:
  default_policy: bypass
  rules:
    - domain: 'app.example.com'
      subject: 'user:mallory'
      policy: deny
",
    );
    let target = Target::new("app.example.com", "/");
    assert_eq!(anonymous(&engine, &target), matched_subject_rule(Deny, 0));
    assert_eq!(
        decide(&engine, &target, &alice().subject()),
        default(Bypass)
    );
    assert_eq!(
        decide(&engine, &target, &user("Mallory", &[]).subject()),
        matched_subject_rule(Deny, 0)
    );
}

// Fields one by one.

#[test]
fn domain_entries_are_alternatives() {
    let engine = engine(
        r"
access_control:
  default_policy: deny
  rules:
    - domain: ['app.example.com', '*.apps.example.com']
      domain_regex: '^api-[0-9]+\.example\.com$'
      policy: one_factor
",
    );
    for host in ["app.example.com", "x.apps.example.com", "api-7.example.com"] {
        let target = Target::new(host, "/");
        assert_eq!(anonymous(&engine, &target), matched(OneFactor, 0), "{host}");
    }
    for host in ["apps.example.com", "api-x.example.com", "www.example.com"] {
        let target = Target::new(host, "/");
        assert_eq!(anonymous(&engine, &target), default(Deny), "{host}");
    }
}

#[test]
fn user_domain_placeholder() {
    let engine = engine(
        "
access_control:
  default_policy: deny
  rules:
    - domain: '{user}.home.example.com'
      policy: one_factor
",
    );
    let cases = [
        ("alice.home.example.com", "alice", true),
        ("alice.home.example.com", "Alice", true),
        ("bob.home.example.com", "alice", false),
        ("john.doe.home.example.com", "john.doe", true),
        ("home.example.com", "alice", false),
        ("alicehome.example.com", "alice", false),
    ];
    for (host, name, expected) in cases {
        let target = Target::new(host, "/");
        let subject = Subject::User {
            username: name,
            groups: &[],
        };
        let expected = if expected {
            matched_subject_rule(OneFactor, 0)
        } else {
            default(Deny)
        };
        assert_eq!(
            decide(&engine, &target, &subject),
            expected,
            "{name} on {host}"
        );
    }
    let anonymous_cases = [
        (
            "anyone.home.example.com",
            matched_subject_rule(OneFactor, 0),
        ),
        ("a.b.home.example.com", matched_subject_rule(OneFactor, 0)),
        ("home.example.com", default(Deny)),
        ("xhome.example.com", default(Deny)),
    ];
    for (host, expected) in anonymous_cases {
        let target = Target::new(host, "/");
        assert_eq!(anonymous(&engine, &target), expected, "anonymous on {host}");
    }
}

#[test]
fn group_domain_placeholder() {
    let engine = engine(
        "
access_control:
  default_policy: deny
  rules:
    - domain: '{group}.teams.example.com'
      policy: one_factor
",
    );
    let member = user("carol", &["Dev", "ops", "x.dev"]);
    let cases = [
        ("dev.teams.example.com", true),
        ("ops.teams.example.com", true),
        ("qa.teams.example.com", false),
        // The group is one label: "x" is not a group, and "x.dev" spans two labels.
        ("x.dev.teams.example.com", false),
        ("teams.example.com", false),
    ];
    for (host, expected) in cases {
        let target = Target::new(host, "/");
        let expected = if expected {
            matched_subject_rule(OneFactor, 0)
        } else {
            default(Deny)
        };
        assert_eq!(
            decide(&engine, &target, &member.subject()),
            expected,
            "{host}"
        );
    }
    let target = Target::new("qa.teams.example.com", "/");
    assert_eq!(
        anonymous(&engine, &target),
        matched_subject_rule(OneFactor, 0)
    );
}

#[test]
fn regex_named_groups_bind_subject() {
    let engine = engine(
        r"
access_control:
  default_policy: deny
  rules:
    - domain_regex: '^(?P<Group>[a-z]+)\.groups\.example\.com$'
      policy: one_factor
    - domain: 'files.example.com'
      resources: '^/users/(?P<User>[^/?]+)/'
      policy: one_factor
    - domain_regex: '^(?:(?P<User>[a-z]+)\.)?optional\.example\.com$'
      policy: two_factor
",
    );
    let carol = user("Carol", &["Dev"]);
    let cases = [
        (
            "dev.groups.example.com",
            "/",
            matched_subject_rule(OneFactor, 0),
        ),
        ("ops.groups.example.com", "/", default(Deny)),
        (
            "files.example.com",
            "/users/carol/a.txt",
            matched_subject_rule(OneFactor, 1),
        ),
        (
            "files.example.com",
            "/users/CAROL/a.txt",
            matched_subject_rule(OneFactor, 1),
        ),
        ("files.example.com", "/users/dave/a.txt", default(Deny)),
        (
            "carol.optional.example.com",
            "/",
            matched_subject_rule(TwoFactor, 2),
        ),
        // The User group captures nothing here, so it cannot name Carol.
        ("optional.example.com", "/", default(Deny)),
    ];
    for (host, path, expected) in cases {
        let target = Target::new(host, path);
        assert_eq!(
            decide(&engine, &target, &carol.subject()),
            expected,
            "{host}{path}"
        );
    }
    let anonymous_cases = [
        (
            "ops.groups.example.com",
            "/",
            matched_subject_rule(OneFactor, 0),
        ),
        ("OPS.groups.example.com", "/", default(Deny)),
        (
            "files.example.com",
            "/users/dave/a.txt",
            matched_subject_rule(OneFactor, 1),
        ),
        ("files.example.com", "/shared/a.txt", default(Deny)),
        (
            "optional.example.com",
            "/",
            matched_subject_rule(TwoFactor, 2),
        ),
    ];
    for (host, path, expected) in anonymous_cases {
        let target = Target::new(host, path);
        assert_eq!(
            anonymous(&engine, &target),
            expected,
            "anonymous on {host}{path}"
        );
    }
}

#[test]
fn named_group_pattern_repeats_safely() {
    // The capture buffers are pooled; repeated and interleaved decisions must not mix them up.
    let engine = engine(SUBJECT_RULES);
    let alice = alice();
    let bob = bob();
    for _ in 0..3 {
        for (host, subject, expected) in [
            ("alice.home.example.com", alice.subject(), Some(1)),
            ("bob.home.example.com", alice.subject(), None),
            ("bob.home.example.com", bob.subject(), Some(1)),
        ] {
            let target = Target::new(host, "/");
            assert_eq!(decide(&engine, &target, &subject).rule, expected, "{host}");
        }
    }
}

#[test]
fn subject_lists_or_of_ands() {
    let engine = engine(
        "
access_control:
  default_policy: deny
  rules:
    - domain: 'app.example.com'
      subject: ['user:Alice', ['group:admins', 'group:ops'], 'oauth2:client:ci-bot']
      policy: one_factor
",
    );
    let target = Target::new("app.example.com", "/");
    let granted = matched_subject_rule(OneFactor, 0);
    let cases = [
        (user("alice", &[]), granted),
        (user("ALICE", &[]), granted),
        (user("bob", &["admins", "ops"]), granted),
        (user("bob", &["admins"]), default(Deny)),
        (user("bob", &["Admins", "ops"]), default(Deny)),
        (user("ci-bot", &[]), default(Deny)),
    ];
    for (subject, expected) in cases {
        assert_eq!(
            decide(&engine, &target, &subject.subject()),
            expected,
            "{} in {:?}",
            subject.name,
            subject.groups
        );
    }
    assert_eq!(anonymous(&engine, &target), granted);
}

#[test]
fn user_names_ignore_unicode_case() {
    assert!(eq_ignore_case("ΟΔΥΣΣΕΥΣ", "οδυσσευς"));
    assert!(eq_ignore_case("Zoë", "zoë"));
    assert!(eq_ignore_case("alice", "ALICE"));
    assert!(!eq_ignore_case("alice", "alicia"));
    assert!(!eq_ignore_case("zoë", "zoe"));
}

#[test]
fn networks_need_known_client() {
    let engine = engine(
        "
definitions:
  network:
    internal: ['10.0.0.0/8', 'fd00::/8']
access_control:
  default_policy: deny
  rules:
    - domain: 'app.example.com'
      networks: ['internal', '203.0.113.7']
      policy: bypass
    - domain: 'app.example.com'
      policy: one_factor
",
    );
    let target = Target::new("app.example.com", "/");
    let cases = [
        ("10.1.2.3", matched(Bypass, 0)),
        ("203.0.113.7", matched(Bypass, 0)),
        ("::ffff:10.1.2.3", matched(Bypass, 0)),
        ("fd00::1", matched(Bypass, 0)),
        ("203.0.113.8", matched(OneFactor, 1)),
        ("11.0.0.1", matched(OneFactor, 1)),
        ("2001:db8::1", matched(OneFactor, 1)),
    ];
    for (address, expected) in cases {
        let target = target.clone().ip(address);
        assert_eq!(anonymous(&engine, &target), expected, "{address}");
    }
    assert_eq!(
        anonymous(&engine, &target),
        matched(OneFactor, 1),
        "unknown client IP"
    );
}

#[test]
fn query_operators() {
    let engine = engine(
        "
access_control:
  default_policy: deny
  rules:
    - domain: 'equal.example.com'
      query: [[{key: mode, value: view}]]
      policy: bypass
    - domain: 'not-equal.example.com'
      query: [[{key: mode, operator: 'not equal', value: edit}]]
      policy: bypass
    - domain: 'present.example.com'
      query: [[{key: debug}]]
      policy: bypass
    - domain: 'absent.example.com'
      query: [[{key: debug, operator: absent}]]
      policy: bypass
    - domain: 'pattern.example.com'
      query: [[{key: token, operator: pattern, value: '^[a-f0-9]{4}$'}]]
      policy: bypass
    - domain: 'not-pattern.example.com'
      query: [[{key: token, operator: 'not pattern', value: '^x'}]]
      policy: bypass
",
    );
    let cases = [
        ("equal", "/?mode=view", true),
        ("equal", "/?mode=view&mode=edit", true),
        ("equal", "/?mode=edit&mode=view", false),
        ("equal", "/?mode=View", false),
        ("equal", "/?mode=vi%65w", true),
        ("equal", "/", false),
        ("not-equal", "/?mode=view", true),
        ("not-equal", "/?mode=edit", false),
        ("not-equal", "/", true),
        ("present", "/?debug", true),
        ("present", "/?debug=", true),
        ("present", "/?debug=1", true),
        ("present", "/?Debug=1", false),
        ("present", "/", false),
        ("absent", "/", true),
        ("absent", "/?other=1", true),
        ("absent", "/?debug=", false),
        ("pattern", "/?token=beef", true),
        ("pattern", "/?token=BEEF", false),
        ("pattern", "/?token=beef&token=x", true),
        ("pattern", "/", false),
        ("not-pattern", "/?token=abc", true),
        ("not-pattern", "/?token=xyz", false),
        ("not-pattern", "/", true),
    ];
    for (number, (label, path, expected)) in cases.into_iter().enumerate() {
        let host = format!("{label}.example.com");
        let target = Target::new(&host, path);
        let decision = anonymous(&engine, &target);
        assert_eq!(
            decision.policy == Bypass,
            expected,
            "case {number}: {host}{path}"
        );
    }
}

#[test]
fn query_alternatives_or_of_ands() {
    let engine = engine(
        "
access_control:
  default_policy: deny
  rules:
    - domain: 'app.example.com'
      query:
        - [{key: a, value: '1'}, {key: b, value: '2'}]
        - [{key: c, operator: present}]
      policy: bypass
",
    );
    let cases = [
        ("/?a=1&b=2", true),
        ("/?b=2&a=1", true),
        ("/?a=1", false),
        ("/?c", true),
        ("/?a=1&c=", true),
        ("/", false),
    ];
    for (path, expected) in cases {
        let target = Target::new("app.example.com", path);
        assert_eq!(
            anonymous(&engine, &target).policy == Bypass,
            expected,
            "{path}"
        );
    }
}

#[test]
fn criteria_combine_with_and() {
    let engine = engine(
        "
access_control:
  default_policy: two_factor
  rules:
    - domain: 'app.example.com'
      networks: ['10.0.0.0/8']
      resources: ['^/api/']
      methods: ['GET']
      query: [[{key: v, value: '1'}]]
      policy: bypass
",
    );
    let good = Target::new("app.example.com", "/api/x?v=1").ip("10.0.0.1");
    assert_eq!(anonymous(&engine, &good), matched(Bypass, 0));
    let variations = [
        Target::new("www.example.com", "/api/x?v=1").ip("10.0.0.1"),
        Target::new("app.example.com", "/api/x?v=1").ip("192.0.2.1"),
        Target::new("app.example.com", "/web/x?v=1").ip("10.0.0.1"),
        Target::new("app.example.com", "/api/x?v=1")
            .ip("10.0.0.1")
            .method("POST"),
        Target::new("app.example.com", "/api/x?v=2").ip("10.0.0.1"),
    ];
    for target in variations {
        assert_eq!(
            anonymous(&engine, &target),
            default(TwoFactor),
            "{target:?}"
        );
    }
}

#[test]
fn rule_without_host_criterion_matches_any_host() {
    let config = AccessControlConfig {
        default_policy: Deny,
        rules: vec![Rule {
            resources: vec!["^/health$".to_owned()],
            ..rule(Bypass)
        }],
    };
    let engine = AccessControl::compile(&config).expect("the rule compiles");
    for host in ["a.example.com", "example.net", "10.0.0.1"] {
        let target = Target::new(host, "/health");
        assert_eq!(anonymous(&engine, &target), matched(Bypass, 0), "{host}");
    }
}

#[test]
fn ip_literal_domains() {
    let engine = engine(
        "
access_control:
  default_policy: deny
  rules:
    - domain: '192.0.2.10'
      policy: one_factor
    - domain: '2001:DB8:0::1'
      policy: two_factor
",
    );
    let cases = [
        ("192.0.2.10", matched(OneFactor, 0)),
        ("2001:db8::1", matched(TwoFactor, 1)),
        ("[2001:db8::1]", matched(TwoFactor, 1)),
        ("192.0.2.1", default(Deny)),
    ];
    for (host, expected) in cases {
        let target = Target::new(host, "/");
        assert_eq!(anonymous(&engine, &target), expected, "{host}");
    }
}

#[test]
fn default_policy_when_nothing_matches() {
    let engine = engine("access_control:\n  default_policy: one_factor\n");
    let target = Target::new("app.example.com", "/");
    assert_eq!(anonymous(&engine, &target), default(OneFactor));
    assert_eq!(engine.default_policy(), OneFactor);
    assert_eq!(engine.rule_count(), 0);
}

#[test]
fn two_factor_in_use() {
    assert!(engine(SHARED_RULES).is_two_factor_in_use());
    assert!(!engine(ADMIN_BY_GROUP).is_two_factor_in_use());
    assert!(engine("access_control:\n  default_policy: two_factor\n").is_two_factor_in_use());
    assert!(!engine("access_control:\n  default_policy: one_factor\n").is_two_factor_in_use());
}

// Compiling rules that were built without the configuration's checks.

fn rule(policy: Policy) -> Rule {
    Rule {
        domain: Vec::new(),
        domain_regex: Vec::new(),
        policy,
        subject: Vec::new(),
        networks: Vec::new(),
        resources: Vec::new(),
        query: Vec::new(),
        methods: Vec::new(),
    }
}

#[test]
fn compile_errors_name_key_path() {
    let bad_regex = AccessControlConfig {
        default_policy: Deny,
        rules: vec![
            rule(Bypass),
            Rule {
                domain_regex: vec!["^ok$".to_owned(), "(".to_owned()],
                ..rule(Deny)
            },
        ],
    };
    let error = AccessControl::compile(&bad_regex).expect_err("'(' does not compile");
    assert_eq!(error.path, "access_control.rules[1].domain_regex[1]");
    assert!(
        error.message.starts_with("invalid regular expression"),
        "{error}"
    );

    let bad_domain = AccessControlConfig {
        default_policy: Deny,
        rules: vec![Rule {
            domain: vec!["*.*.example.com".to_owned()],
            ..rule(Deny)
        }],
    };
    let error = AccessControl::compile(&bad_domain).expect_err("a second '*' is refused");
    assert_eq!(error.path, "access_control.rules[0].domain[0]");

    for entry in ["*", "*.", "a..b", "{user}", "app.{user}.example.com"] {
        let config = AccessControlConfig {
            default_policy: Deny,
            rules: vec![Rule {
                domain: vec![entry.to_owned()],
                ..rule(Deny)
            }],
        };
        assert!(AccessControl::compile(&config).is_err(), "{entry}");
    }
}

// The host index.

/// Returns the candidate rule numbers for `host`.
fn candidates(engine: &AccessControl, host: &str) -> Vec<usize> {
    engine.index.candidates(host).collect()
}

#[test]
fn index_candidates_in_order() {
    let engine = engine(
        r"
access_control:
  default_policy: deny
  rules:
    - domain: '*.example.com'
      methods: ['OPTIONS']
      policy: bypass
    - domain: 'other.example.net'
      policy: deny
    - domain: ['app.example.com', '*.example.com', '{user}.example.com']
      policy: one_factor
    - domain_regex: '^x\.'
      policy: deny
    - domain: '*.app.example.com'
      policy: two_factor
    - domain: 'app.example.com'
      policy: two_factor
",
    );
    assert_eq!(candidates(&engine, "app.example.com"), vec![0, 2, 3, 5]);
    assert_eq!(candidates(&engine, "a.app.example.com"), vec![0, 2, 3, 4]);
    assert_eq!(candidates(&engine, "other.example.net"), vec![1, 3]);
    assert_eq!(candidates(&engine, "example.com"), vec![3]);
    assert_eq!(candidates(&engine, "unrelated.org"), vec![3]);

    let target = Target::new("app.example.com", "/");
    assert_eq!(
        anonymous(&engine, &target),
        matched_subject_rule(OneFactor, 2)
    );
    let preflight = target.clone().method("OPTIONS");
    assert_eq!(anonymous(&engine, &preflight), matched(Bypass, 0));
}

#[test]
fn index_skips_rules_for_other_hosts() {
    let mut yaml = String::from("access_control:\n  default_policy: deny\n  rules:\n");
    for number in 0..5_000 {
        yaml.push_str(&format!(
            "    - domain: ['host{number}.example.com', '*.zone{number}.example.net']\n      policy: one_factor\n"
        ));
    }
    yaml.push_str("    - domain: 'last.example.com'\n      policy: two_factor\n");
    let engine = engine(&yaml);

    assert_eq!(candidates(&engine, "last.example.com"), vec![5_000]);
    assert_eq!(candidates(&engine, "host4321.example.com"), vec![4_321]);
    assert_eq!(candidates(&engine, "a.b.zone17.example.net"), vec![17]);
    assert_eq!(
        candidates(&engine, "nothing.example.org"),
        Vec::<usize>::new()
    );

    let target = Target::new("last.example.com", "/");
    assert_eq!(anonymous(&engine, &target), matched(TwoFactor, 5_000));
}

#[test]
fn index_overflow_scans_every_rule() {
    // One wildcard rule per suffix of a host with 80 labels: more lists than the merge holds.
    let labels: Vec<String> = (0..80).map(|number| format!("l{number}")).collect();
    let host = labels.join(".");
    let mut rules = Vec::new();
    for start in (1..labels.len()).rev() {
        rules.push(Rule {
            domain: vec![format!("*.{}", labels[start..].join("."))],
            methods: vec!["DELETE".to_owned()],
            ..rule(Deny)
        });
    }
    rules.push(Rule {
        domain: vec![format!("*.{}", labels[79])],
        ..rule(OneFactor)
    });
    let config = AccessControlConfig {
        default_policy: Deny,
        rules,
    };
    let engine = AccessControl::compile(&config).expect("the rules compile");

    assert_eq!(candidates(&engine, &host), (0..80).collect::<Vec<_>>());
    let target = Target::new(&host, "/");
    assert_eq!(anonymous(&engine, &target), matched(OneFactor, 79));
    let delete = target.clone().method("DELETE");
    assert_eq!(anonymous(&engine, &delete), matched(Deny, 0));
}
