//! Older Authelia key names that are still accepted (with a warning naming the new key), and
//! Authelia sections that Gatehouse does not implement (a warning, then ignored).

use crate::config::read::{join, Reader};
use crate::config::tree::Value;

/// Older keys that mean exactly the same as a newer key: (old path, new path).
pub(crate) const RENAMED_KEYS: &[(&str, &str)] = &[
    (
        "jwt_secret",
        "identity_validation.reset_password.jwt_secret",
    ),
    ("session.remember_me_duration", "session.remember_me"),
    (
        "authentication_backend.disable_reset_password",
        "authentication_backend.password_reset.disable",
    ),
    (
        "webauthn.user_verification",
        "webauthn.selection_criteria.user_verification",
    ),
    ("log_level", "log.level"),
    ("logs_level", "log.level"),
    ("log_format", "log.format"),
    ("log_file_path", "log.file_path"),
];

/// Older scalar keys that are folded into a newer structure after the environment is applied.
pub(crate) const STRUCTURAL_KEYS: &[&str] = &[
    "session.domain",
    "default_redirection_url",
    "host",
    "port",
    "server.host",
    "server.port",
    "storage.postgres.host",
    "storage.postgres.port",
];

/// Authelia keys that Gatehouse does not implement, with what happens instead.
const UNIMPLEMENTED_KEYS: &[(&str, &str)] = &[
    ("duo_api", "Duo push is not supported"),
    (
        "identity_providers",
        "the OpenID Connect provider is not supported",
    ),
    ("ntp", "the NTP start-up check is not supported"),
    ("telemetry", "telemetry is not supported"),
    ("theme", "the portal has one theme"),
    (
        "default_2fa_method",
        "users choose their second factor in the portal",
    ),
    (
        "certificates_directory",
        "Gatehouse uses the system's trusted certificates",
    ),
    ("privacy_policy", "the portal shows no privacy policy link"),
    (
        "server.tls",
        "Gatehouse serves plain HTTP; terminate TLS at the reverse proxy",
    ),
    ("server.headers", "the portal sets its own security headers"),
    ("server.asset_path", "custom assets are not supported"),
    (
        "server.disable_healthcheck",
        "the health check endpoint is always served",
    ),
    ("server.timeouts", "the listener uses fixed timeouts"),
    (
        "server.path",
        "Gatehouse serves the portal at the root path",
    ),
    (
        "server.buffers.write",
        "only server.buffers.read is configurable",
    ),
    (
        "server.endpoints.enable_pprof",
        "profiling endpoints are not supported",
    ),
    (
        "server.endpoints.enable_expvars",
        "profiling endpoints are not supported",
    ),
    (
        "log.keep_stdout",
        "the log goes to log.file_path when it is set, else to standard output",
    ),
    (
        "authentication_backend.ldap",
        "LDAP is not supported; users come from the users file or the database",
    ),
    (
        "authentication_backend.file.extra_attributes",
        "extra user attributes are not supported",
    ),
    (
        "authentication_backend.file.password.sha2crypt",
        "Gatehouse hashes new passwords with argon2id only",
    ),
    (
        "authentication_backend.file.password.pbkdf2",
        "Gatehouse hashes new passwords with argon2id only",
    ),
    (
        "authentication_backend.file.password.bcrypt",
        "Gatehouse hashes new passwords with argon2id only",
    ),
    (
        "authentication_backend.file.password.scrypt",
        "Gatehouse hashes new passwords with argon2id only",
    ),
    ("session.redis", "sessions are kept in the SQL database"),
    (
        "storage.mysql",
        "MySQL is not supported; use storage.local or storage.postgres",
    ),
    (
        "storage.postgres.servers",
        "only one PostgreSQL server is supported",
    ),
    (
        "notifier.template_path",
        "custom e-mail templates are not supported",
    ),
    (
        "notifier.smtp.disable_html_emails",
        "Gatehouse sends plain-text e-mail",
    ),
    (
        "webauthn.metadata",
        "authenticator metadata validation is not supported",
    ),
    (
        "definitions.user_attributes",
        "custom user attributes are not supported",
    ),
];

/// Moves renamed keys in the tree read from files to their new paths.
pub(crate) fn rename_keys(reader: &mut Reader, root: &mut Value) {
    for (old, new) in RENAMED_KEYS {
        let Some(value) = root.remove_path(old) else {
            continue;
        };
        if root.get_path(new).is_some() {
            reader.error(old, format!("set only {new}; {old} is its older name"));
            continue;
        }
        reader.warn(old, format!("is deprecated; use {new}"));
        set_path(reader, root, new, value, old);
    }
}

/// Folds the older structural keys into their newer form. Returns whether the legacy
/// `session.domain` form was used, whose cookie domain has no portal URL.
pub(crate) fn fold_structural_keys(reader: &mut Reader, root: &mut Value) -> bool {
    fold_listen_address(reader, root);
    fold_postgres_address(reader, root);
    fold_networks(reader, root);
    fold_session_domain(reader, root)
}

/// Removes sections Gatehouse does not implement, with a warning for each.
pub(crate) fn strip_unimplemented(reader: &mut Reader, root: &mut Value) {
    for (path, consequence) in UNIMPLEMENTED_KEYS {
        if root.remove_path(path).is_some() {
            reader.warn(
                path,
                format!("is not implemented by Gatehouse and is ignored: {consequence}"),
            );
        }
    }
}

/// Sets `path` to `value`, creating mappings on the way. `source` names the key or variable
/// the value came from, for the error when a parent is not a mapping.
pub(crate) fn set_path(
    reader: &mut Reader,
    root: &mut Value,
    path: &str,
    value: Value,
    source: &str,
) {
    let mut node = root;
    let mut walked = String::new();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.insert(part, value);
            return;
        }
        walked = join(&walked, part);
        if node.get(part).is_none() {
            node.insert(part, Value::Map(Vec::new()));
        }
        let Some(child) = node.get_mut(part) else {
            return;
        };
        if child.is_null() {
            *child = Value::Map(Vec::new());
        }
        if !matches!(child, Value::Map(_)) {
            reader.error(
                &walked,
                format!(
                    "cannot set {path} from {source}: {walked} is {}, not a mapping",
                    child.kind()
                ),
            );
            return;
        }
        node = child;
    }
}

fn fold_listen_address(reader: &mut Reader, root: &mut Value) {
    let mut host = None;
    let mut port = None;
    for (host_key, port_key) in [("host", "port"), ("server.host", "server.port")] {
        if let Some(value) = root.remove_path(host_key) {
            reader.warn(
                host_key,
                "is deprecated; use server.address, e.g. tcp://0.0.0.0:9091/",
            );
            host = Some((host_key, value));
        }
        if let Some(value) = root.remove_path(port_key) {
            reader.warn(
                port_key,
                "is deprecated; use server.address, e.g. tcp://0.0.0.0:9091/",
            );
            port = Some((port_key, value));
        }
    }
    if host.is_none() && port.is_none() {
        return;
    }
    if root.get_path("server.address").is_some() {
        let key = host
            .as_ref()
            .or(port.as_ref())
            .map_or("server.host", |(key, _)| key);
        reader.error(
            key,
            "set only server.address; host and port are its older form",
        );
        return;
    }
    let host_text = match &host {
        None => String::new(),
        Some((key, value)) => match scalar_text(value) {
            Some(text) => text,
            None => {
                reader.wrong_type(key, "a host name or address", value);
                return;
            }
        },
    };
    let port_text = match &port {
        None => "9091".to_owned(),
        Some((key, value)) => match scalar_text(value) {
            Some(text) => text,
            None => {
                reader.wrong_type(key, "a port number", value);
                return;
            }
        },
    };
    let host_part = if host_text.contains(':') {
        format!("[{host_text}]")
    } else {
        host_text
    };
    let address = Value::Str(format!("tcp://{host_part}:{port_text}/"));
    set_path(reader, root, "server.address", address, "host and port");
}

fn fold_postgres_address(reader: &mut Reader, root: &mut Value) {
    let host = root.remove_path("storage.postgres.host");
    let port = root.remove_path("storage.postgres.port");
    if host.is_none() && port.is_none() {
        return;
    }
    let path = if host.is_some() {
        "storage.postgres.host"
    } else {
        "storage.postgres.port"
    };
    if root.get_path("storage.postgres.address").is_some() {
        reader.error(
            path,
            "set only storage.postgres.address; host and port are its older form",
        );
        return;
    }
    reader.warn(
        path,
        "is deprecated; use storage.postgres.address, e.g. tcp://postgres:5432",
    );
    let Some(host_text) = host.as_ref().and_then(scalar_text) else {
        reader.error(
            "storage.postgres.host",
            "missing: the database server's host name",
        );
        return;
    };
    let port_text = port
        .as_ref()
        .and_then(scalar_text)
        .unwrap_or_else(|| "5432".to_owned());
    let host_part = if host_text.contains(':') {
        format!("[{host_text}]")
    } else {
        host_text
    };
    let address = Value::Str(format!("tcp://{host_part}:{port_text}"));
    set_path(
        reader,
        root,
        "storage.postgres.address",
        address,
        "host and port",
    );
}

/// Moves `access_control.networks: [{name, networks}]` into `definitions.network`.
fn fold_networks(reader: &mut Reader, root: &mut Value) {
    let Some(value) = root.remove_path("access_control.networks") else {
        return;
    };
    let path = "access_control.networks";
    reader.warn(
        path,
        "is deprecated; use definitions.network, a mapping of names to lists of networks",
    );
    let Value::List(items) = value else {
        reader.wrong_type(path, "a list of {name, networks}", &value);
        return;
    };
    for (index, item) in items.into_iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        let Value::Map(entries) = item else {
            reader.wrong_type(&item_path, "a mapping with name and networks", &item);
            continue;
        };
        let mut name = None;
        let mut networks = None;
        for (key, entry) in entries {
            match key.as_str() {
                "name" => name = scalar_text(&entry),
                "networks" => networks = Some(entry),
                _ => reader.error(&join(&item_path, &key), "unknown key"),
            }
        }
        let (Some(name), Some(networks)) = (name, networks) else {
            reader.error(&item_path, "needs both name and networks");
            continue;
        };
        let target = format!("definitions.network.{name}");
        if name.contains('.') {
            reader.error(
                &join(&item_path, "name"),
                "a network name cannot contain '.'",
            );
        } else if root.get_path(&target).is_some() {
            reader.error(
                &join(&item_path, "name"),
                format!("network '{name}' is also defined in definitions.network"),
            );
        } else {
            set_path(reader, root, &target, networks, path);
        }
    }
}

/// Turns `session.domain` and the top-level `default_redirection_url` into one cookie domain.
fn fold_session_domain(reader: &mut Reader, root: &mut Value) -> bool {
    let domain = root.remove_path("session.domain");
    let redirect = root.remove("default_redirection_url");
    let has_cookies = root.get_path("session.cookies").is_some();

    if redirect.is_some() {
        if has_cookies {
            reader.error(
                "default_redirection_url",
                "cannot be combined with session.cookies; set session.cookies[].default_redirection_url instead",
            );
        } else if domain.is_none() {
            reader.error(
                "default_redirection_url",
                "needs session.domain; better, configure session.cookies with authelia_url and default_redirection_url",
            );
        } else {
            reader.warn(
                "default_redirection_url",
                "is deprecated; use session.cookies[].default_redirection_url",
            );
        }
    }
    let Some(domain) = domain else {
        return false;
    };
    if has_cookies {
        reader.error(
            "session.domain",
            "cannot be combined with session.cookies; move it into session.cookies[].domain",
        );
        return false;
    }
    reader.warn(
        "session.domain",
        "is deprecated; use session.cookies with domain and authelia_url. Without authelia_url the /api/authz endpoints need the authelia_url query argument and /api/verify needs rd",
    );
    let mut cookie = vec![("domain".to_owned(), domain)];
    if let Some(redirect) = redirect {
        cookie.push(("default_redirection_url".to_owned(), redirect));
    }
    set_path(
        reader,
        root,
        "session.cookies",
        Value::List(vec![Value::Map(cookie)]),
        "session.domain",
    );
    true
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Str(text) | Value::Env { text, .. } => Some(text.clone()),
        Value::Int(number) => Some(number.to_string()),
        _ => None,
    }
}
