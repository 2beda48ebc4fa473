//! Loading tests: the whole path from YAML and environment to a checked configuration.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::tree::{merge, parse_yaml, Value};
use crate::config::*;

const SESSION_SECRET: &str = "test-session-secret-0123456789abcdef-XYZ";
const STORAGE_KEY: &str = "test-storage-key-0123456789abcdef-XYZ";
const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef-XYZ";

/// Returns the smallest valid configuration. Tests merge their own keys over it.
fn base_yaml() -> String {
    format!(
        r"
session:
  secret: '{SESSION_SECRET}'
  cookies:
    - domain: example.com
      authelia_url: https://auth.example.com/
storage:
  encryption_key: '{STORAGE_KEY}'
  local:
    path: /var/lib/gatehouse/db.sqlite3
notifier:
  filesystem:
    filename: /tmp/gatehouse-notifications.txt
identity_validation:
  reset_password:
    jwt_secret: '{JWT_SECRET}'
"
    )
}

fn no_env() -> HashMap<String, String> {
    HashMap::new()
}

fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Loads the base configuration with `extra` merged over it.
fn load_with(extra: &str, env: &HashMap<String, String>) -> Result<Loaded, ConfigErrors> {
    let mut root = parse_yaml(&base_yaml(), "base").expect("base parses");
    let overlay = parse_yaml(extra, "extra").expect("extra parses");
    merge(&mut root, overlay);
    super::finish_loading(root, env).into_result()
}

fn load_ok(extra: &str) -> Loaded {
    match load_with(extra, &no_env()) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("unexpected errors:\n{errors}"),
    }
}

fn load_err(extra: &str) -> Vec<Diagnostic> {
    match load_with(extra, &no_env()) {
        Ok(_) => panic!("configuration was accepted:\n{extra}"),
        Err(errors) => errors.0,
    }
}

/// Returns the message of the first diagnostic at `path`, or panics listing all of them.
fn message_at<'d>(diagnostics: &'d [Diagnostic], path: &str) -> &'d str {
    match diagnostics.iter().find(|d| d.path == path) {
        Some(diagnostic) => &diagnostic.message,
        None => panic!("no diagnostic at {path}; got:\n{}", list(diagnostics)),
    }
}

fn list(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/config/testdata/configuration.yml")
}

#[test]
fn base_config_defaults() {
    let config = load_ok("").config;

    assert_eq!(config.server.address, ListenAddress::default());
    assert_eq!(config.server.buffers.read, 32_768);
    assert!(config.server.trusted_proxies.is_none());

    assert_eq!(config.session.name, "authelia_session");
    assert_eq!(config.session.same_site, SameSite::Lax);
    assert_eq!(config.session.expiration, Duration::from_secs(3600));
    assert_eq!(config.session.inactivity, Duration::from_secs(300));
    assert_eq!(
        config.session.remember_me,
        Some(Duration::from_secs(30 * 86_400))
    );

    assert_eq!(config.access_control.default_policy, Policy::Deny);
    assert_eq!(config.totp.issuer, "Gatehouse");
    assert_eq!(config.totp.digits, 6);
    assert_eq!(config.regulation.max_retries, 3);
    assert_eq!(config.regulation.modes, vec![RegulationMode::User]);
    assert_eq!(config.administration.group, "admins");
    assert_eq!(config.password_policy, PasswordPolicyConfig::Disabled);

    assert_eq!(
        config.authentication_backend.refresh_interval,
        RefreshInterval::Every(Duration::from_secs(300))
    );
    let argon2 = config.authentication_backend.password_hashing().argon2;
    assert_eq!(
        (
            argon2.iterations,
            argon2.memory,
            argon2.parallelism,
            argon2.key_length,
            argon2.salt_length
        ),
        (3, 65_536, 4, 32, 16)
    );
}

#[test]
fn default_authz_endpoints() {
    let config = load_ok("").config;
    let names: Vec<&str> = config
        .server
        .endpoints
        .authz
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["forward-auth", "auth-request", "ext-authz", "legacy"]
    );
    let legacy = &config.server.endpoints.authz[3];
    assert_eq!(legacy.path(), "/api/verify");
    let strategy_names: Vec<StrategyName> =
        legacy.authn_strategies.iter().map(|s| s.name).collect();
    assert_eq!(
        strategy_names,
        [StrategyName::HeaderLegacy, StrategyName::CookieSession]
    );
    let forward = &config.server.endpoints.authz[0];
    assert_eq!(forward.path(), "/api/authz/forward-auth");
    assert_eq!(forward.authn_strategies.len(), 3);
    assert_eq!(
        forward.authn_strategies[0].scheme_basic_cache_lifespan,
        Duration::from_secs(300)
    );
}

#[test]
fn default_rate_limits() {
    let limits = load_ok("").config.server.endpoints.rate_limits;
    assert_eq!(limits.reset_password_start.buckets.len(), 3);
    assert_eq!(
        limits.reset_password_start.buckets[0],
        Bucket {
            period: Duration::from_secs(600),
            requests: 5
        }
    );
    assert_eq!(
        limits.authz_basic.buckets[1],
        Bucket {
            period: Duration::from_secs(600),
            requests: 30
        }
    );
    // Elevation buckets are multiples of the code lifespan (5 minutes by default).
    assert_eq!(
        limits.session_elevation_start.buckets[2],
        Bucket {
            period: Duration::from_secs(3600),
            requests: 15
        }
    );
    assert_eq!(
        limits.session_elevation_finish.buckets[2],
        Bucket {
            period: Duration::from_secs(3600),
            requests: 15
        }
    );
}

#[test]
fn fixture_loads() {
    let loaded = match load(&[fixture_path()], &no_env()) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("fixture rejected:\n{errors}"),
    };
    let config = &loaded.config;
    assert_eq!(config.server.buffers.read, 16_384);
    assert_eq!(
        config.server.trusted_proxies.as_ref().map(Vec::len),
        Some(2)
    );
    assert_eq!(config.server.endpoints.authz[0].authn_strategies.len(), 2);
    assert_eq!(
        config.server.endpoints.authz[0].authn_strategies[0].scheme_basic_cache_lifespan,
        Duration::from_secs(120)
    );
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.totp.algorithm, TotpAlgorithm::Sha1);
    assert_eq!(config.totp.allowed_digits, vec![6, 8]);
    assert!(config.webauthn.enable_passkey_login);
    assert_eq!(config.webauthn.timeout, Duration::from_secs(60));
    assert_eq!(
        config.password_policy,
        PasswordPolicyConfig::Zxcvbn { min_score: 3 }
    );
    assert!(
        matches!(config.storage.backend, StorageBackend::Postgres(ref pg) if pg.host == "postgres" && pg.port == 5432)
    );
    assert!(
        matches!(config.notifier.transport, NotifierTransport::Smtp(ref smtp) if smtp.scheme == SmtpScheme::Submission)
    );

    let rules = &config.access_control.rules;
    assert_eq!(rules.len(), 6);
    assert_eq!(
        rules[2].domain,
        vec!["*.internal.example.com", "wiki.example.com"]
    );
    assert_eq!(rules[2].networks.len(), 3);
    assert_eq!(rules[4].methods, vec!["GET", "HEAD", "POST"]);
    assert_eq!(
        rules[4].subject,
        vec![
            vec![Subject::User("john".to_owned())],
            vec![
                Subject::Group("admins".to_owned()),
                Subject::Group("ops".to_owned())
            ],
        ]
    );
    assert_eq!(rules[4].query[0][0].operator, QueryOperator::Absent);

    let cookies = &config.session.cookies;
    assert_eq!(
        cookies[0].authelia_url.as_ref().map(url::Url::as_str),
        Some("https://auth.example.com/")
    );
    assert_eq!(
        cookies[1].authelia_url.as_ref().map(url::Url::as_str),
        Some("https://login.example.org/portal/")
    );
    assert_eq!(cookies[1].remember_me, None);
    assert_eq!(cookies[1].inactivity, Duration::from_secs(600));
    assert_eq!(
        cookies[0].remember_me,
        Some(Duration::from_secs(30 * 86_400))
    );

    // Unimplemented sections are warnings naming each key.
    for path in [
        "duo_api",
        "theme",
        "default_2fa_method",
        "server.buffers.write",
        "server.endpoints.enable_pprof",
    ] {
        assert!(
            loaded.warnings.iter().any(|w| w.path == path),
            "no warning for {path}:\n{}",
            list(&loaded.warnings)
        );
    }
}

#[test]
fn secrets_stay_hidden() {
    let loaded = load(&[fixture_path()], &no_env()).expect("fixture loads");
    let debug = format!("{:?}", loaded.config);
    let warnings = list(&loaded.warnings);
    for secret in [
        "fixture-session-secret",
        "fixture-storage-encryption-key",
        "fixture-reset-password-secret",
        "fixture-postgres-password",
        "fixture-smtp-password",
        "duo-secret-key-value",
    ] {
        assert!(!debug.contains(secret), "{secret} appears in Debug output");
        assert!(!warnings.contains(secret), "{secret} appears in a warning");
    }
}

#[test]
fn secrets_stay_hidden_in_errors() {
    let short = "short-secret-value";
    let errors = load_err(&format!(
        "session: {{secret: '{short}'}}\nstorage: {{encryption_key: '{short}'}}\nidentity_validation: {{reset_password: {{jwt_secret: '{short}'}}}}\n"
    ));
    let text = list(&errors);
    assert!(!text.contains(short), "a secret appears in:\n{text}");
    assert!(message_at(&errors, "session.secret").contains("openssl rand -base64 48"));
    assert!(
        message_at(&errors, "identity_validation.reset_password.jwt_secret")
            .contains("at least 32")
    );
    assert!(message_at(&errors, "storage.encryption_key").contains("at least 20"));

    // A secret of the wrong type is reported without its value.
    let errors = load_err("session: {secret: [hidden-list-secret-value]}\n");
    assert!(!list(&errors).contains("hidden-list-secret-value"));

    // A secret from the environment is not shown either.
    let env = env_of(&[("GATEHOUSE_SESSION_SECRET", "env-secret-too-short")]);
    let errors = load_with("", &env).unwrap_err().0;
    let text = list(&errors);
    assert!(!text.contains("env-secret-too-short"), "{text}");
    assert!(message_at(&errors, "session.secret").contains("at least 32"));
}

#[test]
fn encryption_key_between_20_and_32_warns() {
    let loaded = load_ok("storage: {encryption_key: 'twenty-five-characters-x'}\n");
    assert!(message_at(&loaded.warnings, "storage.encryption_key").contains("shorter than 32"));
}

#[test]
fn env_overrides_scalars() {
    let env = env_of(&[
        ("GATEHOUSE_SERVER_BUFFERS_READ", "65536"),
        ("GATEHOUSE_SESSION_INACTIVITY", "15m"),
        ("GATEHOUSE_TOTP_DISABLE", "true"),
        (
            "GATEHOUSE_SERVER_TRUSTED_PROXIES",
            "10.0.0.0/8, 192.168.1.1",
        ),
        ("GATEHOUSE_SESSION_REMEMBER_ME", "-1"),
    ]);
    let loaded = load_with("", &env).unwrap_or_else(|e| panic!("{e}"));
    let config = loaded.config;
    assert_eq!(config.server.buffers.read, 65_536);
    assert_eq!(config.session.inactivity, Duration::from_secs(900));
    assert_eq!(
        config.session.cookies[0].inactivity,
        Duration::from_secs(900)
    );
    assert!(config.totp.disable);
    assert_eq!(config.server.trusted_proxies.map(|p| p.len()), Some(2));
    assert_eq!(config.session.remember_me, None);
    assert!(loaded.warnings.is_empty(), "{}", list(&loaded.warnings));
}

#[test]
fn env_secret_from_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session_secret");
    std::fs::write(&file, "file-session-secret-0123456789abcdef-long\n").unwrap();
    let env = env_of(&[("GATEHOUSE_SESSION_SECRET_FILE", file.to_str().unwrap())]);
    let config = load_with("", &env).unwrap_or_else(|e| panic!("{e}")).config;
    assert_eq!(
        config.session.secret.expose(),
        "file-session-secret-0123456789abcdef-long"
    );
}

#[test]
fn env_plain_and_file_together_fail() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "file-session-secret-0123456789abcdef-long").unwrap();
    let env = env_of(&[
        (
            "GATEHOUSE_SESSION_SECRET",
            "plain-session-secret-0123456789abcdef-long",
        ),
        ("GATEHOUSE_SESSION_SECRET_FILE", file.to_str().unwrap()),
    ]);
    let errors = load_with("", &env).unwrap_err().0;
    let message = message_at(&errors, "session.secret");
    assert!(message.contains("GATEHOUSE_SESSION_SECRET "), "{message}");
    assert!(
        message.contains("GATEHOUSE_SESSION_SECRET_FILE"),
        "{message}"
    );
    assert!(!list(&errors).contains("plain-session-secret"));
}

#[test]
fn env_unreadable_file_names_variable_and_path() {
    let env = env_of(&[(
        "GATEHOUSE_STORAGE_POSTGRES_PASSWORD_FILE",
        "/nonexistent/gatehouse/pg_password",
    )]);
    let errors = load_with("", &env).unwrap_err().0;
    let message = message_at(&errors, "storage.postgres.password");
    assert!(
        message.contains("GATEHOUSE_STORAGE_POSTGRES_PASSWORD_FILE"),
        "{message}"
    );
    assert!(
        message.contains("/nonexistent/gatehouse/pg_password"),
        "{message}"
    );
}

#[test]
fn env_authelia_prefix_and_precedence() {
    let env = env_of(&[("AUTHELIA_SERVER_BUFFERS_READ", "8192")]);
    assert_eq!(
        load_with("", &env).unwrap().config.server.buffers.read,
        8192
    );

    let env = env_of(&[
        ("AUTHELIA_SERVER_BUFFERS_READ", "8192"),
        ("GATEHOUSE_SERVER_BUFFERS_READ", "16384"),
    ]);
    let loaded = load_with("", &env).unwrap();
    assert_eq!(loaded.config.server.buffers.read, 16_384);
    assert!(message_at(&loaded.warnings, "AUTHELIA_SERVER_BUFFERS_READ")
        .contains("GATEHOUSE_SERVER_BUFFERS_READ"));
}

#[test]
fn env_beats_file_values() {
    let env = env_of(&[("GATEHOUSE_LOG_LEVEL", "debug")]);
    let loaded = load_with("log: {level: warn}\n", &env).unwrap();
    assert_eq!(loaded.config.log.level, LogLevel::Debug);
}

#[test]
fn env_unknown_variables() {
    let env = env_of(&[
        ("GATEHOUSE_SESION_SECRET", "typo-value"),
        ("GATEHOUSE_CONFIG", "/etc/gatehouse.yml"),
        ("GATEHOUSE_DATA", "/var/lib/gatehouse"),
        ("GATEHOUSE_TEST_POSTGRES_URL", "postgres://x"),
        ("AUTHELIA_DUO_API_SECRET_KEY", "duo-secret"),
        ("PATH", "/usr/bin"),
    ]);
    let loaded = load_with("", &env).unwrap();
    let paths: Vec<&str> = loaded.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        ["AUTHELIA_DUO_API_SECRET_KEY", "GATEHOUSE_SESION_SECRET"]
    );
    assert!(!list(&loaded.warnings).contains("typo-value"));
}

#[test]
fn env_legacy_variable_name() {
    let env = env_of(&[(
        "AUTHELIA_JWT_SECRET",
        "env-jwt-secret-0123456789abcdef-long-enough",
    )]);
    let loaded = load_with("", &env).unwrap();
    let secret = loaded
        .config
        .identity_validation
        .reset_password
        .jwt_secret
        .as_ref()
        .map(Secret::expose);
    assert_eq!(secret, Some("env-jwt-secret-0123456789abcdef-long-enough"));
    assert!(message_at(&loaded.warnings, "AUTHELIA_JWT_SECRET")
        .contains("identity_validation.reset_password.jwt_secret"));
}

#[test]
fn env_names_map_to_one_key_each() {
    let table = super::env::variable_table(scalar_key_paths());
    let paths = scalar_key_paths();
    for path in paths {
        assert_eq!(
            table.get(&super::env::variable_suffix(path)),
            Some(path),
            "variable for {path} is shadowed"
        );
    }
    for path in [
        "session.secret",
        "server.buffers.read",
        "storage.postgres.password",
        "notifier.smtp.password",
        "log.file_path",
    ] {
        assert!(
            paths.iter().any(|p| p == path),
            "{path} is not settable from the environment"
        );
    }
    // List-of-object sections are not settable.
    assert!(!paths
        .iter()
        .any(|p| p.starts_with("session.cookies") || p.starts_with("access_control.rules")));
}

#[test]
fn env_cannot_set_into_a_list() {
    let env = env_of(&[("GATEHOUSE_SERVER_BUFFERS_READ", "8192")]);
    let errors = load_with("server: {buffers: [1, 2]}\n", &env)
        .unwrap_err()
        .0;
    assert!(message_at(&errors, "server.buffers").contains("GATEHOUSE_SERVER_BUFFERS_READ"));
}

#[test]
fn files_merge_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("10-base.yml");
    let second = dir.path().join("20-override.yaml");
    std::fs::write(&first, base_yaml() + "log: {level: warn, format: json}\naccess_control:\n  rules:\n    - {domain: a.example.com, policy: one_factor}\n    - {domain: b.example.com, policy: one_factor}\n").unwrap();
    std::fs::write(&second, "log: {level: debug}\naccess_control:\n  rules:\n    - {domain: c.example.com, policy: two_factor}\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not: [configuration").unwrap();

    for files in [
        vec![first.clone(), second.clone()],
        vec![dir.path().to_path_buf()],
    ] {
        let config = load(&files, &no_env())
            .unwrap_or_else(|e| panic!("{e}"))
            .config;
        assert_eq!(config.log.level, LogLevel::Debug);
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(
            config.access_control.rules.len(),
            1,
            "lists are replaced, not merged"
        );
        assert_eq!(config.access_control.rules[0].domain, vec!["c.example.com"]);
    }
}

#[test]
fn yaml_syntax_error_names_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yml");
    std::fs::write(&file, "session:\n  secret: [unclosed\n").unwrap();
    let errors = load(std::slice::from_ref(&file), &no_env()).unwrap_err().0;
    assert_eq!(errors[0].path, file.display().to_string());
    assert!(errors[0].message.contains("invalid YAML"));
}

#[test]
fn unknown_keys_are_errors() {
    let errors = load_err(
        "access_control:\n  rules:\n    - domain: app.example.com\n      resource: '^/api'\n      policy: bypass\nsession: {expiry: 1h}\nacess_control: {}\n",
    );
    assert_eq!(
        message_at(&errors, "access_control.rules[0].resource"),
        "unknown key"
    );
    assert_eq!(message_at(&errors, "session.expiry"), "unknown key");
    assert_eq!(message_at(&errors, "acess_control"), "unknown key");
}

#[test]
fn all_errors_are_collected() {
    let errors = load_err(
        "access_control:\n  default_policy: allow\n  rules:\n    - {domain: a.example.com, policy: maybe}\n    - {policy: deny}\nregulation: {find_time: 10m, ban_time: 5m}\n",
    );
    assert!(errors.len() >= 4, "{}", list(&errors));
    assert!(message_at(&errors, "access_control.default_policy").contains("allow"));
    assert!(message_at(&errors, "access_control.rules[0].policy").contains("maybe"));
    assert!(
        message_at(&errors, "access_control.rules[1].domain").contains("domain or domain_regex")
    );
    assert!(message_at(&errors, "regulation.find_time").contains("ban_time"));
}

#[test]
fn rule_errors_name_paths() {
    let errors = load_err(
        r"
definitions:
  network:
    internal: [10.0.0.0/8]
access_control:
  rules:
    - domain: a.example.com
      policy: one_factor
    - domain: a.example.com
      policy: one_factor
    - domain: a.example.com
      policy: one_factor
    - domain_regex: ['^ok\.example\.com$', '^(unclosed\.example\.com$']
      policy: two_factor
    - domain: a.example.com
      policy: bypass
      subject: 'user:john'
    - domain: a.example.com
      policy: one_factor
      methods: [GET, FETCH]
      networks: [internal, 10.1.0.0/16, nowhere]
      subject: [['group:x', 'role:y']]
      query:
        - - {key: a, operator: like, value: b}
          - {key: b, operator: pattern, value: '(['}
          - {key: c, operator: present, value: x}
          - {key: d, operator: equal}
    - domain: 'https://a.example.com'
      policy: one_factor
",
    );
    assert!(
        message_at(&errors, "access_control.rules[3].domain_regex[1]")
            .contains("invalid regular expression")
    );
    assert!(message_at(&errors, "access_control.rules[4].subject").contains("bypass"));
    assert!(message_at(&errors, "access_control.rules[5].methods[1]").contains("FETCH"));
    assert!(message_at(&errors, "access_control.rules[5].networks[2]").contains("nowhere"));
    assert!(message_at(&errors, "access_control.rules[5].subject[0][1]").contains("role:y"));
    assert!(message_at(&errors, "access_control.rules[5].query[0][0].operator").contains("like"));
    assert!(
        message_at(&errors, "access_control.rules[5].query[0][1].value")
            .contains("invalid regular expression")
    );
    assert!(message_at(&errors, "access_control.rules[5].query[0][2].value").contains("no value"));
    assert!(message_at(&errors, "access_control.rules[5].query[0][3].value").contains("missing"));
    assert!(message_at(&errors, "access_control.rules[6].domain").contains("host name"));
    assert!(
        !errors
            .iter()
            .any(|e| e.path.starts_with("access_control.rules[0]")),
        "{}",
        list(&errors)
    );
}

#[test]
fn rule_values_are_normalized() {
    let config = load_ok(
        "access_control:\n  rules:\n    - {domain: App.Example.COM, policy: one_factor, subject: 'user:Alice', methods: [get, Post]}\n",
    )
    .config;
    let rule = &config.access_control.rules[0];
    assert_eq!(rule.domain, vec!["app.example.com"]);
    assert_eq!(rule.subject, vec![vec![Subject::User("alice".to_owned())]]);
    assert_eq!(rule.methods, vec!["GET", "POST"]);
}

#[test]
fn bypass_pattern_warning() {
    let loaded = load_ok(
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
    let message = message_at(&loaded.warnings, "access_control.rules[0].resources[0]");
    assert!(message.contains("not anchored"), "{message}");
    assert!(message.contains("query string"), "{message}");
    assert!(
        message.contains(r"^[^?]*\.(css|js|png)(\?.*)?$"),
        "{message}"
    );
    let text = loaded
        .warnings
        .iter()
        .find(|w| w.path == "access_control.rules[0].resources[0]")
        .unwrap()
        .to_string();
    assert!(text.starts_with("access_control.rules[0].resources[0]: "));
}

#[test]
fn pattern_warnings_only_for_weak_policies() {
    let loaded = load_ok(
        r"
access_control:
  rules:
    - domain: 'a.example.com'
      resources: ['^/static/.*\.css$']
      policy: one_factor
    - domain: 'a.example.com'
      resources: ['\.css$']
      policy: two_factor
    - domain_regex: 'files\.example\.com'
      policy: bypass
    - domain: 'a.example.com'
      query: [[{key: token, operator: pattern, value: 'abc'}]]
      policy: bypass
    - domain: 'a.example.com'
      resources: ['^[^?]*\.(css|js|png)(\?.*)?$', '^/public/']
      policy: bypass
",
    );
    let paths: Vec<&str> = loaded.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "access_control.rules[0].resources[0]",
            "access_control.rules[2].domain_regex[0]",
            "access_control.rules[3].query[0][0].value",
        ]
    );
    assert!(
        message_at(&loaded.warnings, "access_control.rules[0].resources[0]")
            .contains(r"^/static/[^?]*\.css(\?.*)?$")
    );
    assert!(
        message_at(&loaded.warnings, "access_control.rules[2].domain_regex[0]")
            .contains(r"^files\.example\.com$")
    );
}

#[test]
fn cookie_domain_errors() {
    let errors = load_err(
        r"
session:
  cookies:
    - domain: '*.example.com'
      authelia_url: https://auth.example.com/
    - domain: localhost
      authelia_url: http://localhost/
    - domain: example.net
      authelia_url: http://auth.example.net/
    - domain: example.org
      authelia_url: https://auth.example.com/
    - domain: example.io
      authelia_url: https://auth.example.io/
      default_redirection_url: https://auth.example.io
    - domain: app.example.io
      authelia_url: https://auth.app.example.io/
    - domain: example.io
      authelia_url: https://auth.example.io/
    - domain: example.dev
    - domain: example.eu
      authelia_url: https://auth.example.eu/
      same_site: Lax
",
    );
    assert!(message_at(&errors, "session.cookies[0].domain").contains("wildcard"));
    assert!(message_at(&errors, "session.cookies[1].domain").contains("dot"));
    assert!(message_at(&errors, "session.cookies[2].authelia_url").contains("https"));
    assert!(
        message_at(&errors, "session.cookies[3].authelia_url").contains("not the cookie domain")
    );
    assert!(message_at(&errors, "session.cookies[4].default_redirection_url").contains("differ"));
    assert!(message_at(&errors, "session.cookies[5].domain").contains("overlaps"));
    assert!(message_at(&errors, "session.cookies[6].domain").contains("duplicate"));
    assert!(message_at(&errors, "session.cookies[7].authelia_url").contains("missing"));
    assert!(message_at(&errors, "session.cookies[8].same_site").contains("lower-case"));
}

#[test]
fn cookie_domain_leading_dot_warns() {
    let loaded = load_ok("session:\n  cookies:\n    - {domain: .example.com, authelia_url: 'https://auth.example.com'}\n");
    assert_eq!(loaded.config.session.cookies[0].domain, "example.com");
    assert!(message_at(&loaded.warnings, "session.cookies[0].domain").contains("leading '.'"));
}

#[test]
fn localhost_cookie_domain_allows_http() {
    let config = load_ok(
        "session:\n  cookies:\n    - {domain: gatehouse.localhost, authelia_url: 'http://auth.gatehouse.localhost:9091'}\n",
    )
    .config;
    assert!(config.session.cookies[0].is_localhost());
    assert!(config.session.cookies[0].covers("app.gatehouse.localhost"));
}

#[test]
fn session_lifetimes() {
    let config = load_ok("session: {expiration: 0, inactivity: -5, remember_me: 2 days}\n").config;
    assert_eq!(config.session.expiration, Duration::from_secs(3600));
    assert_eq!(config.session.inactivity, Duration::from_secs(300));
    assert_eq!(
        config.session.remember_me,
        Some(Duration::from_secs(2 * 86_400))
    );
    let config = load_ok("session: {remember_me: -1}\n").config;
    assert_eq!(config.session.cookies[0].remember_me, None);
    assert!(load_err("session: {remember_me: -2}\n")
        .iter()
        .any(|e| e.path == "session.remember_me"));
}

#[test]
fn section_value_errors() {
    let errors = load_err(
        r"
totp: {digits: 7, algorithm: MD5, secret_size: 16}
password_policy:
  standard: {enabled: true}
  zxcvbn: {enabled: true, min_score: 5}
regulation: {modes: [user, host]}
server:
  address: 'tcp://example.com:9091'
  endpoints:
    authz:
      -bad:
        implementation: ForwardAuth
      verify:
        implementation: forwardauth
      both:
        implementation: ExtAuthz
        authn_strategies:
          - name: CookieSession
          - name: CookieSession
      legacy:
        implementation: ForwardAuth
webauthn:
  filtering:
    permitted_aaguids: ['ee882879-721c-4913-9775-3dfcce97072a']
    prohibited_aaguids: ['ee882879-721c-4913-9775-3dfcce97072b', 'not-a-uuid']
",
    );
    assert!(message_at(&errors, "totp.digits").contains("6 or 8"));
    assert!(message_at(&errors, "totp.algorithm").contains("MD5"));
    assert!(message_at(&errors, "totp.secret_size").contains("20"));
    assert!(message_at(&errors, "password_policy.standard.enabled").contains("at most one"));
    assert!(message_at(&errors, "password_policy.zxcvbn.min_score").contains("1 and 4"));
    assert!(message_at(&errors, "regulation.modes[1]").contains("host"));
    assert!(message_at(&errors, "server.address").contains("not an IP address"));
    assert!(message_at(&errors, "server.endpoints.authz.-bad").contains("endpoint name"));
    assert!(
        message_at(&errors, "server.endpoints.authz.verify.implementation")
            .contains("case-sensitive")
    );
    assert!(message_at(
        &errors,
        "server.endpoints.authz.both.authn_strategies[1].name"
    )
    .contains("duplicate"));
    assert!(message_at(&errors, "server.endpoints.authz.legacy.implementation").contains("Legacy"));
    assert!(message_at(&errors, "webauthn.filtering.prohibited_aaguids[1]").contains("AAGUID"));
    assert!(message_at(&errors, "webauthn.filtering.prohibited_aaguids").contains("not both"));
}

#[test]
fn password_policy_zero_means_default() {
    let config = load_ok("password_policy: {zxcvbn: {enabled: true, min_score: 0}}\n").config;
    assert_eq!(
        config.password_policy,
        PasswordPolicyConfig::Zxcvbn { min_score: 3 }
    );
    let config = load_ok("password_policy: {standard: {enabled: true, min_length: 0}}\n").config;
    assert!(
        matches!(config.password_policy, PasswordPolicyConfig::Standard(p) if p.min_length == 8)
    );
}

#[test]
fn refresh_interval_forms() {
    let cases = [
        ("always", RefreshInterval::Always),
        ("0", RefreshInterval::Always),
        ("disable", RefreshInterval::Disable),
        ("10m", RefreshInterval::Every(Duration::from_secs(600))),
    ];
    for (text, expected) in cases {
        let config = load_ok(&format!(
            "authentication_backend: {{refresh_interval: '{text}'}}\n"
        ))
        .config;
        assert_eq!(
            config.authentication_backend.refresh_interval, expected,
            "{text}"
        );
    }
}

#[test]
fn empty_trusted_proxies_warns() {
    let loaded = load_ok("server: {trusted_proxies: []}\n");
    assert_eq!(loaded.config.server.trusted_proxies, Some(Vec::new()));
    assert!(message_at(&loaded.warnings, "server.trusted_proxies").contains("trusts no proxy"));
}

#[test]
fn configured_endpoint_gets_default_strategies() {
    let config =
        load_ok("server: {endpoints: {authz: {verify: {implementation: Legacy}}}}\n").config;
    assert_eq!(config.server.endpoints.authz.len(), 1);
    assert_eq!(config.server.endpoints.authz[0].path(), "/api/authz/verify");
    assert_eq!(
        config.server.endpoints.authz[0].authn_strategies[0].name,
        StrategyName::HeaderLegacy
    );
}

#[test]
fn unimplemented_sections_warn() {
    let loaded = load_ok("identity_providers: {oidc: {hmac_secret: oidc-secret-value}}\nauthentication_backend: {ldap: {address: 'ldap://x'}}\nntp: {address: 'udp://time.example.com:123'}\n");
    for path in ["identity_providers", "authentication_backend.ldap", "ntp"] {
        assert!(message_at(&loaded.warnings, path).contains("not implemented"));
    }
    assert!(!list(&loaded.warnings).contains("oidc-secret-value"));
}

#[test]
fn legacy_keys_warn_and_apply() {
    let legacy_base = format!(
        r"
jwt_secret: '{JWT_SECRET}'
default_redirection_url: https://www.example.com/
log_level: debug
host: 127.0.0.1
port: 9092
session:
  secret: '{SESSION_SECRET}'
  domain: example.com
  remember_me_duration: 2w
storage:
  encryption_key: '{STORAGE_KEY}'
  postgres: {{host: db, port: 5433, database: gatehouse, username: gatehouse, password: pw}}
notifier: {{filesystem: {{filename: /tmp/n.txt}}}}
authentication_backend: {{disable_reset_password: true}}
webauthn: {{user_verification: required}}
access_control:
  networks:
    - {{name: internal, networks: ['10.0.0.0/8']}}
  rules:
    - {{domain: a.example.com, networks: [internal], policy: one_factor}}
"
    );
    let loaded = match load_str(&legacy_base, &no_env()) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("{errors}"),
    };
    let config = &loaded.config;
    assert_eq!(config.server.address.port, 9092);
    assert_eq!(config.server.address.ip, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(config.log.level, LogLevel::Debug);
    assert_eq!(
        config.session.remember_me,
        Some(Duration::from_secs(14 * 86_400))
    );
    assert_eq!(config.session.cookies.len(), 1);
    assert_eq!(config.session.cookies[0].authelia_url, None);
    assert_eq!(
        config.session.cookies[0]
            .default_redirection_url
            .as_ref()
            .map(url::Url::as_str),
        Some("https://www.example.com/")
    );
    assert!(config.authentication_backend.password_reset.disable);
    assert_eq!(
        config.webauthn.selection_criteria.user_verification,
        Preference::Required
    );
    assert!(config.definitions.network.contains_key("internal"));
    assert_eq!(config.access_control.rules[0].networks.len(), 1);
    assert!(matches!(config.storage.backend, StorageBackend::Postgres(ref pg) if pg.port == 5433));

    for (path, new_key) in [
        (
            "jwt_secret",
            "identity_validation.reset_password.jwt_secret",
        ),
        ("log_level", "log.level"),
        ("host", "server.address"),
        ("session.domain", "session.cookies"),
        ("session.remember_me_duration", "session.remember_me"),
        ("default_redirection_url", "default_redirection_url"),
        (
            "authentication_backend.disable_reset_password",
            "password_reset.disable",
        ),
        (
            "webauthn.user_verification",
            "selection_criteria.user_verification",
        ),
        ("access_control.networks", "definitions.network"),
        ("storage.postgres.host", "storage.postgres.address"),
    ] {
        assert!(
            message_at(&loaded.warnings, path).contains(new_key),
            "{path}"
        );
    }
}

#[test]
fn legacy_key_conflicts() {
    let errors = load_err("session: {domain: example.org}\ndefault_redirection_url: https://www.example.com/\njwt_secret: x\nserver: {host: 0.0.0.0, address: 'tcp://:9091/'}\n");
    assert!(message_at(&errors, "session.domain").contains("session.cookies"));
    assert!(message_at(&errors, "default_redirection_url").contains("session.cookies"));
    assert!(
        message_at(&errors, "jwt_secret").contains("identity_validation.reset_password.jwt_secret")
    );
    assert!(message_at(&errors, "server.host").contains("server.address"));
    assert!(!list(&errors).contains(": x"), "{}", list(&errors));
}

#[test]
fn missing_required_sections() {
    let errors = load_str("{}", &no_env()).unwrap_err().0;
    for path in [
        "session.secret",
        "session.cookies",
        "storage",
        "storage.encryption_key",
        "notifier",
        "identity_validation.reset_password.jwt_secret",
    ] {
        assert!(
            errors.iter().any(|e| e.path == path),
            "no error at {path}:\n{}",
            list(&errors)
        );
    }
}

#[test]
fn jwt_secret_optional_when_reset_disabled() {
    let yaml = base_yaml().replace(
        &format!("    jwt_secret: '{JWT_SECRET}'\n"),
        "    jwt_lifespan: 5m\n",
    );
    let yaml = yaml + "authentication_backend: {password_reset: {disable: true}}\n";
    assert!(load_str(&yaml, &no_env()).is_ok());
}

#[test]
fn diagnostic_display() {
    let diagnostic = Diagnostic {
        path: "a.b[0]".to_owned(),
        message: "unknown key".to_owned(),
    };
    assert_eq!(diagnostic.to_string(), "a.b[0]: unknown key");
    let errors = ConfigErrors(vec![diagnostic.clone(), diagnostic]);
    assert_eq!(
        errors.to_string(),
        "a.b[0]: unknown key\na.b[0]: unknown key"
    );
}

#[test]
fn tree_has_no_stray_values() {
    // Guards the helper above: the base configuration itself loads without warnings.
    let loaded = load_ok("");
    assert!(loaded.warnings.is_empty(), "{}", list(&loaded.warnings));
    assert!(matches!(parse_yaml("", "empty"), Ok(Value::Map(_))));
}
