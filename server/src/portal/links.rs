//! Links to the portal's own pages, for e-mails and redirects.

use url::Url;

/// Builds the address of the portal page `path` (relative to the portal, such as
/// `reset-password/step2`) with the `query` pairs. The page goes below the portal URL's own
/// path, whether or not that path ends in `/`: `https://example.com/auth` and
/// `https://example.com/auth/` both give `https://example.com/auth/<path>`. `Url::join` would
/// drop `auth` from the first.
pub(crate) fn portal_link(portal: &Url, path: &str, query: &[(&str, &str)]) -> Url {
    let mut link = portal.clone();
    link.set_query(None);
    link.set_fragment(None);
    let base = portal.path().trim_end_matches('/');
    link.set_path(&format!("{base}/{}", path.trim_start_matches('/')));
    if !query.is_empty() {
        let mut pairs = link.query_pairs_mut();
        for (name, value) in query {
            pairs.append_pair(name, value);
        }
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(portal: &str, path: &str, query: &[(&str, &str)]) -> String {
        let portal = Url::parse(portal).expect("a valid portal URL");
        portal_link(&portal, path, query).to_string()
    }

    #[test]
    fn link_below_root_portal() {
        assert_eq!(
            link(
                "https://auth.example.com/",
                "reset-password/step2",
                &[("token", "abc")]
            ),
            "https://auth.example.com/reset-password/step2?token=abc"
        );
        assert_eq!(
            link("https://auth.example.com", "settings", &[]),
            "https://auth.example.com/settings"
        );
    }

    #[test]
    fn link_keeps_portal_path_without_slash() {
        assert_eq!(
            link(
                "https://example.com/auth",
                "revoke/one-time-code",
                &[("id", "x-1_Z")]
            ),
            "https://example.com/auth/revoke/one-time-code?id=x-1_Z"
        );
    }

    #[test]
    fn link_keeps_portal_path_with_slash() {
        assert_eq!(
            link(
                "https://example.com/a/auth/",
                "reset-password/step2",
                &[("token", "t")]
            ),
            "https://example.com/a/auth/reset-password/step2?token=t"
        );
    }

    #[test]
    fn link_escapes_query_values() {
        assert_eq!(
            link(
                "https://example.com:8443/auth",
                "/settings",
                &[("rd", "https://a/?b=c&d")]
            ),
            "https://example.com:8443/auth/settings?rd=https%3A%2F%2Fa%2F%3Fb%3Dc%26d"
        );
    }
}
