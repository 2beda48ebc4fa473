//! `session`: the session cookie and its lifetimes, per cookie domain.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use crate::config::read::{read_duration, read_integer, Reader, Section};
use crate::config::secret::Secret;
use crate::config::tree::Value;

const DEFAULT_NAME: &str = "authelia_session";
const DEFAULT_EXPIRATION: Duration = Duration::from_secs(60 * 60);
const DEFAULT_INACTIVITY: Duration = Duration::from_secs(5 * 60);
const DEFAULT_REMEMBER_ME: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Session settings; the per-domain values are resolved into [`CookieDomain`].
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Key that encrypts session data at rest; at least 32 characters.
    pub secret: Secret,
    pub name: String,
    pub same_site: SameSite,
    pub expiration: Duration,
    pub inactivity: Duration,
    /// Lifetime of a remembered session; `None` when remember-me is disabled (`-1`).
    pub remember_me: Option<Duration>,
    pub cookies: Vec<CookieDomain>,
}

/// One entry of `session.cookies`, with the session-wide values filled in where the entry sets
/// none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieDomain {
    /// Lower-case domain (or IP address) that the cookie is scoped to.
    pub domain: String,
    /// Portal URL for this domain; `None` only for the legacy `session.domain` form.
    pub authelia_url: Option<Url>,
    pub default_redirection_url: Option<Url>,
    pub name: String,
    pub same_site: SameSite,
    pub expiration: Duration,
    pub inactivity: Duration,
    /// `None` when remember-me is disabled for this domain.
    pub remember_me: Option<Duration>,
}

impl CookieDomain {
    /// Checks whether the domain is `localhost` or under it, where plain HTTP is allowed because
    /// browsers treat such hosts as secure contexts.
    pub fn is_localhost(&self) -> bool {
        is_localhost(&self.domain)
    }

    /// Checks whether `host` (canonical, lower-case) equals the domain or is a subdomain of it on a
    /// label boundary.
    pub fn covers(&self, host: &str) -> bool {
        host_is_under(host, &self.domain)
    }
}

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

/// Session-wide values that each cookie domain inherits.
struct Shared {
    name: String,
    same_site: SameSite,
    expiration: Duration,
    inactivity: Duration,
    remember_me: Option<Duration>,
}

pub(crate) fn read_session(
    reader: &mut Reader,
    mut section: Section<'_>,
    legacy_domain: bool,
) -> SessionConfig {
    let secret_path = section.key_path("secret");
    let secret = section.secret(reader, "secret");
    if secret.is_none() {
        reader.error(
            &secret_path,
            format!("missing; {}", crate::config::secret::GENERATE_SECRET_HINT),
        );
    }

    let defaults = Shared {
        name: DEFAULT_NAME.to_owned(),
        same_site: SameSite::Lax,
        expiration: DEFAULT_EXPIRATION,
        inactivity: DEFAULT_INACTIVITY,
        remember_me: Some(DEFAULT_REMEMBER_ME),
    };
    let shared = read_shared(reader, &mut section, &defaults);

    let mut cookies = Vec::new();
    for (path, item) in section.list(reader, "cookies") {
        let mut cookie = Section::open(reader, &path, Some(item));
        if let Some(entry) = read_cookie(reader, &mut cookie, &shared, legacy_domain) {
            cookies.push((path, entry));
        }
        cookie.finish(reader);
    }
    if cookies.is_empty() && !reader.recording() && !section.has("cookies") {
        reader.error(
            &section.key_path("cookies"),
            "missing: configure at least one cookie domain with its authelia_url",
        );
    }
    check_overlaps(reader, &cookies);
    section.finish(reader);

    SessionConfig {
        secret: secret.unwrap_or_else(|| Secret::new(String::new())),
        name: shared.name,
        same_site: shared.same_site,
        expiration: shared.expiration,
        inactivity: shared.inactivity,
        remember_me: shared.remember_me,
        cookies: cookies.into_iter().map(|(_, cookie)| cookie).collect(),
    }
}

fn read_shared(reader: &mut Reader, section: &mut Section<'_>, inherited: &Shared) -> Shared {
    let name_path = section.key_path("name");
    let name = match section.string(reader, "name") {
        Some(name) => {
            if let Err(message) = check_cookie_name(&name) {
                reader.error(&name_path, message);
            }
            name
        }
        None => inherited.name.clone(),
    };
    let same_site_path = section.key_path("same_site");
    let same_site = match section.string(reader, "same_site").as_deref() {
        None => inherited.same_site,
        Some("lax") => SameSite::Lax,
        Some("strict") => SameSite::Strict,
        Some("none") => SameSite::None,
        Some(other) => {
            reader.error(
                &same_site_path,
                format!("invalid value '{other}': expected lax, strict or none (lower-case)"),
            );
            inherited.same_site
        }
    };
    let expiration = read_lifetime(reader, section, "expiration").unwrap_or(inherited.expiration);
    let inactivity = read_lifetime(reader, section, "inactivity").unwrap_or(inherited.inactivity);
    let remember_me = read_remember_me(reader, section).unwrap_or(inherited.remember_me);
    Shared {
        name,
        same_site,
        expiration,
        inactivity,
        remember_me,
    }
}

/// Reads a lifetime for which zero or a negative number means "use the default".
fn read_lifetime(reader: &mut Reader, section: &mut Section<'_>, key: &str) -> Option<Duration> {
    let path = section.key_path(key);
    let value = section.scalar(reader, key)?;
    if is_non_positive_integer(reader, &path, value) {
        return None;
    }
    read_duration(reader, &path, value).filter(|duration| !duration.is_zero())
}

/// Reads `remember_me`: `-1` disables it (`Some(None)`), zero keeps the default (`None`).
fn read_remember_me(reader: &mut Reader, section: &mut Section<'_>) -> Option<Option<Duration>> {
    let path = section.key_path("remember_me");
    let value = section.scalar(reader, "remember_me")?;
    if looks_like_integer(value) {
        match read_integer(reader, &path, value)? {
            -1 => return Some(None),
            n if n < -1 => {
                reader.error(
                    &path,
                    format!("must be a duration, or -1 to disable remember-me; found {n}"),
                );
                return None;
            }
            0 => return None,
            _ => {}
        }
    }
    read_duration(reader, &path, value)
        .filter(|duration| !duration.is_zero())
        .map(Some)
}

fn looks_like_integer(value: &Value) -> bool {
    match value {
        Value::Int(_) => true,
        Value::Str(text) | Value::Env { text, .. } => text.trim().parse::<i64>().is_ok(),
        _ => false,
    }
}

fn is_non_positive_integer(reader: &mut Reader, path: &str, value: &Value) -> bool {
    looks_like_integer(value) && read_integer(reader, path, value).is_some_and(|n| n <= 0)
}

fn read_cookie(
    reader: &mut Reader,
    section: &mut Section<'_>,
    shared: &Shared,
    legacy_domain: bool,
) -> Option<CookieDomain> {
    let domain_path = section.key_path("domain");
    let domain = match section.string(reader, "domain") {
        None => {
            reader.error(&domain_path, "missing cookie domain");
            None
        }
        Some(text) => match normalize_cookie_domain(&text) {
            Ok((domain, warning)) => {
                if let Some(warning) = warning {
                    reader.warn(&domain_path, warning);
                }
                Some(domain)
            }
            Err(message) => {
                reader.error(&domain_path, message);
                None
            }
        },
    };

    let portal_path = section.key_path("authelia_url");
    let portal = section.string(reader, "authelia_url");
    let redirect_path = section.key_path("default_redirection_url");
    let redirect = section.string(reader, "default_redirection_url");
    let values = read_shared(reader, section, shared);
    let domain = domain?;

    let authelia_url = match portal {
        None => {
            if !legacy_domain {
                reader.error(
                    &portal_path,
                    "missing: the portal URL for this domain, e.g. https://auth.example.com/",
                );
            }
            None
        }
        Some(text) => match check_url_under_domain(&text, &domain) {
            Ok(url) => Some(url),
            Err(message) => {
                reader.error(&portal_path, message);
                None
            }
        },
    };
    let default_redirection_url = match redirect {
        None => None,
        Some(text) => match check_url_under_domain(&text, &domain) {
            Ok(url) if authelia_url.as_ref() == Some(&url) => {
                reader.error(
                    &redirect_path,
                    "must differ from authelia_url: users would be sent back to the portal",
                );
                None
            }
            Ok(url) => Some(url),
            Err(message) => {
                reader.error(&redirect_path, message);
                None
            }
        },
    };

    Some(CookieDomain {
        domain,
        authelia_url,
        default_redirection_url,
        name: values.name,
        same_site: values.same_site,
        expiration: values.expiration,
        inactivity: values.inactivity,
        remember_me: values.remember_me,
    })
}

fn check_overlaps(reader: &mut Reader, cookies: &[(String, CookieDomain)]) {
    for (index, (path, cookie)) in cookies.iter().enumerate() {
        for (earlier_path, earlier) in &cookies[..index] {
            let message = if cookie.domain == earlier.domain {
                format!(
                    "duplicate cookie domain '{}', also at {earlier_path}",
                    cookie.domain
                )
            } else if host_is_under(&cookie.domain, &earlier.domain)
                || host_is_under(&earlier.domain, &cookie.domain)
            {
                format!(
                    "cookie domain '{}' overlaps '{}' at {earlier_path}: one session cookie would be sent to both",
                    cookie.domain, earlier.domain
                )
            } else {
                continue;
            };
            reader.error(&format!("{path}.domain"), message);
        }
    }
}

/// Lower-cases and checks a cookie domain. A leading dot is removed with a warning.
pub(crate) fn normalize_cookie_domain(text: &str) -> Result<(String, Option<String>), String> {
    let mut domain = text.trim().to_ascii_lowercase();
    if !text.is_ascii() {
        return Err(format!(
            "'{text}' is not ASCII: write internationalised names in punycode (xn--…)"
        ));
    }
    if let Some(parent) = domain.strip_prefix("*.") {
        return Err(format!(
            "'{domain}' is a wildcard: use the parent domain '{parent}', which covers its subdomains"
        ));
    }
    let mut warning = None;
    if let Some(stripped) = domain.strip_prefix('.') {
        warning = Some(format!(
            "the leading '.' is ignored: '{stripped}' already covers its subdomains; write '{stripped}'"
        ));
        domain = stripped.to_owned();
    }
    if domain.parse::<IpAddr>().is_ok() {
        return Ok((domain, warning));
    }
    // NOTE: public suffixes such as `co.uk` or `github.io` are not rejected yet, because no
    // public suffix list is bundled. Only names without a dot are refused.
    if !domain.contains('.') {
        return Err(format!(
            "'{domain}' has no dot: browsers do not scope cookies to a top-level name; use a domain such as example.com"
        ));
    }
    check_hostname(&domain)?;
    Ok((domain, warning))
}

/// Checks a lower-case DNS name: labels of a-z, 0-9, '-' or '_', 1 to 63 characters each,
/// 253 characters in all.
pub(crate) fn check_hostname(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!("'{name}' is longer than 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("'{name}' has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("'{name}' has a label longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "'{name}' is not a valid host name: use letters, digits, '-' and '.'"
            ));
        }
    }
    Ok(())
}

/// Checks a URL that must point into `domain`: absolute, `https` (`http` only for a localhost
/// domain), no user information, query or fragment. A non-root path gets a trailing `/`.
pub(crate) fn check_url_under_domain(text: &str, domain: &str) -> Result<Url, String> {
    let mut url = Url::parse(text.trim())
        .map_err(|error| format!("'{text}' is not an absolute URL: {error}"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_localhost(domain) => {}
        "http" => {
            return Err(format!(
                "'{text}' must use https (http is allowed only for a localhost domain)"
            ))
        }
        other => return Err(format!("'{text}' has scheme '{other}': expected https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "'{}' must not contain user information",
            url.host_str().unwrap_or("")
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("'{text}' must not have a query or fragment"));
    }
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if !host_is_under(&host, domain) {
        return Err(format!(
            "host '{host}' of '{text}' is not the cookie domain '{domain}' or under it"
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Checks whether `host` equals `domain` or is a subdomain of it on a label boundary.
pub(crate) fn host_is_under(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

pub(crate) fn is_localhost(domain: &str) -> bool {
    domain == "localhost" || domain.ends_with(".localhost")
}

/// Checks a cookie name against the token characters of RFC 6265.
fn check_cookie_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    let invalid = name
        .bytes()
        .any(|b| !(0x21..0x7f).contains(&b) || b"()<>@,;:\\\"/[]?={}".contains(&b));
    if invalid {
        return Err(format!(
            "'{name}' is not a valid cookie name: use letters, digits and -_.!#$%&'*+^`|~"
        ));
    }
    if name.starts_with("__Host-") {
        return Err(
            "a __Host- cookie cannot carry a Domain attribute, which Gatehouse sets".to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_under_label_boundary() {
        assert!(host_is_under("example.com", "example.com"));
        assert!(host_is_under("a.b.example.com", "example.com"));
        assert!(!host_is_under("badexample.com", "example.com"));
        assert!(!host_is_under("example.com.evil.net", "example.com"));
    }

    #[test]
    fn cookie_domain_rules() {
        assert!(normalize_cookie_domain("*.example.com").is_err());
        assert!(normalize_cookie_domain("localhost").is_err());
        assert!(normalize_cookie_domain("exa mple.com").is_err());
        assert_eq!(
            normalize_cookie_domain("Example.COM").unwrap().0,
            "example.com"
        );
        let (domain, warning) = normalize_cookie_domain(".example.com").unwrap();
        assert_eq!(domain, "example.com");
        assert!(warning.is_some());
        assert!(normalize_cookie_domain("192.168.1.10").is_ok());
    }

    #[test]
    fn url_under_domain_rules() {
        let url = check_url_under_domain("https://auth.example.com/portal", "example.com").unwrap();
        assert_eq!(url.as_str(), "https://auth.example.com/portal/");
        assert!(check_url_under_domain("http://auth.example.com/", "example.com").is_err());
        assert!(check_url_under_domain(
            "http://auth.gatehouse.localhost:9091",
            "gatehouse.localhost"
        )
        .is_ok());
        assert!(check_url_under_domain("https://auth.example.net/", "example.com").is_err());
        assert!(check_url_under_domain("https://u:p@auth.example.com/", "example.com").is_err());
        assert!(check_url_under_domain("/relative", "example.com").is_err());
    }
}
