//! Safe `next` targets after login.
//!
//! A login page that redirects to a `next` parameter is an open redirect
//! unless the target is checked. [`safe_next`] accepts a path on the
//! service's own origin, or a URL on an allow-listed origin (optionally
//! under a path prefix, optionally any one-label subdomain), and falls back
//! to the default for everything else: other hosts, scheme-relative tricks
//! (`//evil.com`, `/\evil.com`), backslashes, control characters,
//! credentials in the URL, `javascript:` and `data:` URLs.
//!
//! Targets are parsed with a WHATWG URL parser (the `url` crate), the same
//! rules browsers apply, so what is checked is what the browser will visit.
//!
//! ```
//! use tessera_core::redirect::{AllowedTargets, safe_next};
//!
//! let allowed = AllowedTargets::new("https://app.example.com", "/")?
//!     .allow("https://*.example.com")?;
//! assert_eq!(safe_next("/dashboard?tab=2", &allowed), "/dashboard?tab=2");
//! assert_eq!(safe_next("https://docs.example.com/a", &allowed), "https://docs.example.com/a");
//! assert_eq!(safe_next("//evil.com", &allowed), "/");
//! assert_eq!(safe_next("https://example.com.evil.com/", &allowed), "/");
//! # Ok::<(), tessera_core::ConfigError>(())
//! ```

use url::Url;

use crate::error::ConfigError;

/// Longest target looked at, in bytes; longer ones get the default.
const MAX_TARGET_LEN: usize = 2048;

/// Where a `next` parameter may lead.
#[derive(Debug, Clone)]
pub struct AllowedTargets {
    own: Url,
    default: String,
    others: Vec<OriginRule>,
}

#[derive(Debug, Clone)]
struct OriginRule {
    scheme: String,
    /// The host, or the parent domain for a `*.` rule.
    host: String,
    wildcard: bool,
    port: Option<u16>,
    /// Path prefix, ending in `/`, or `/` for any path.
    path: String,
}

impl AllowedTargets {
    /// Targets on `own_origin` (the service's public URL, such as
    /// `https://app.example.com`), and `default` for everything else.
    ///
    /// # Errors
    /// [`ConfigError`] when `own_origin` is not an http(s) origin or
    /// `default` is not a path on it.
    pub fn new(own_origin: &str, default: &str) -> Result<Self, ConfigError> {
        let own = Url::parse(own_origin)
            .map_err(|e| ConfigError::invalid("own_origin", e.to_string()))?;
        if !matches!(own.scheme(), "http" | "https") || own.host_str().is_none() {
            return Err(ConfigError::invalid(
                "own_origin",
                "must be an http or https origin",
            ));
        }
        if !default.starts_with('/') || default.starts_with("//") || default.contains('\\') {
            return Err(ConfigError::invalid(
                "default",
                "must be a path on the own origin, such as \"/\"",
            ));
        }
        Ok(Self {
            own,
            default: default.to_owned(),
            others: Vec::new(),
        })
    }

    /// Also allows URLs on `rule`: `https://host[:port][/path-prefix]`, where
    /// the host may start with `*.` for any one-label subdomain
    /// (`https://*.example.com` allows `https://a.example.com`, not
    /// `https://example.com`, `https://a.b.example.com` or
    /// `https://evilexample.com`). The scheme and port must match exactly.
    ///
    /// # Errors
    /// [`ConfigError`] for a rule that is not such a URL.
    pub fn allow(mut self, rule: &str) -> Result<Self, ConfigError> {
        let invalid =
            |why: &str| ConfigError::invalid("allowed target", format!("{rule:?}: {why}"));
        let (wildcard, parseable) = match rule.split_once("://*.") {
            Some((scheme, rest)) => (true, format!("{scheme}://{rest}")),
            None => (false, rule.to_owned()),
        };
        let url = Url::parse(&parseable).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("only http and https targets can be allowed"));
        }
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(invalid("a rule is an origin and an optional path prefix"));
        }
        let host = url.host_str().ok_or_else(|| invalid("no host"))?.to_owned();
        let mut path = url.path().to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        self.others.push(OriginRule {
            scheme: url.scheme().to_owned(),
            host,
            wildcard,
            port: url.port_or_known_default(),
            path,
        });
        Ok(self)
    }

    /// The fallback target.
    pub fn default_target(&self) -> &str {
        &self.default
    }

    fn same_origin(&self, url: &Url) -> bool {
        url.scheme() == self.own.scheme()
            && url.host_str() == self.own.host_str()
            && url.port_or_known_default() == self.own.port_or_known_default()
    }

    fn allowed_elsewhere(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        self.others.iter().any(|rule| {
            let host_ok = if rule.wildcard {
                host.strip_suffix(rule.host.as_str())
                    .and_then(|label| label.strip_suffix('.'))
                    .is_some_and(|label| !label.is_empty() && !label.contains('.'))
            } else {
                host == rule.host
            };
            let path = url.path();
            let path_ok = rule.path == "/"
                || path == rule.path.trim_end_matches('/')
                || path.starts_with(&rule.path);
            url.scheme() == rule.scheme
                && host_ok
                && url.port_or_known_default() == rule.port
                && path_ok
        })
    }
}

/// The target to redirect to: `target` when it is safe, otherwise the
/// default of `allowed`.
///
/// A same-origin target comes back as a path (`/a?b#c`), so the `Location`
/// header stays relative; an allow-listed one as an absolute URL.
pub fn safe_next(target: &str, allowed: &AllowedTargets) -> String {
    check(target, allowed).unwrap_or_else(|| allowed.default.clone())
}

fn check(target: &str, allowed: &AllowedTargets) -> Option<String> {
    // Browsers strip or reinterpret these; refuse them instead of guessing
    // what a browser would make of them.
    if target.is_empty()
        || target.len() > MAX_TARGET_LEN
        || target.contains('\\')
        || target.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return None;
    }
    let url = allowed.own.join(target).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    if allowed.same_origin(&url) {
        // A path that starts with "//" would read as another host once
        // written relative ("//evil.com"): keep such targets absolute.
        if url.path().starts_with("//") {
            return Some(url.to_string());
        }
        let mut relative = url.path().to_owned();
        if let Some(query) = url.query() {
            relative.push('?');
            relative.push_str(query);
        }
        if let Some(fragment) = url.fragment() {
            relative.push('#');
            relative.push_str(fragment);
        }
        return Some(relative);
    }
    allowed.allowed_elsewhere(&url).then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> AllowedTargets {
        AllowedTargets::new("https://app.example.com", "/home")
            .unwrap()
            .allow("https://*.example.com")
            .unwrap()
            .allow("https://partner.example.org/app")
            .unwrap()
    }

    /// E1: scheme-relative and backslash tricks.
    #[test]
    fn e1_other_hosts_in_disguise() {
        for bad in [
            "//evil.com",
            "///evil.com",
            "\\\\evil.com",
            "/\\evil.com",
            "\\/evil.com",
            "http:/\\/evil.com",
            "//evil.com/app.example.com",
        ] {
            assert_eq!(safe_next(bad, &allowed()), "/home", "{bad:?}");
        }
    }

    /// E2: script and data URLs, with control characters in front.
    #[test]
    fn e2_scripts_and_control_characters() {
        for bad in [
            "javascript:alert(1)",
            "\njavascript:alert(x)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "\x08//evil.com",
            "\t//evil.com",
            " //evil.com",
            "/path\n",
            "vbscript:x",
        ] {
            assert_eq!(safe_next(bad, &allowed()), "/home", "{bad:?}");
        }
    }

    /// E3: credentials that hide the real host.
    #[test]
    fn e3_userinfo() {
        for bad in [
            "https://app.example.com\\@evil.com",
            "https://app.example.com@evil.com",
            "https://user:pass@app.example.com/x",
        ] {
            assert_eq!(safe_next(bad, &allowed()), "/home", "{bad:?}");
        }
    }

    /// E4: a labelled wildcard does not match suffixes or deeper labels.
    #[test]
    fn e4_wildcards() {
        let allowed = allowed();
        assert_eq!(
            safe_next("https://docs.example.com/x", &allowed),
            "https://docs.example.com/x"
        );
        for bad in [
            "https://evilexample.com",
            "https://example.com.evil.com",
            "https://a.b.example.com/",
            "https://example.com/",
        ] {
            assert_eq!(safe_next(bad, &allowed), "/home", "{bad:?}");
        }
    }

    /// E5: scheme and path prefix must match.
    #[test]
    fn e5_scheme_and_path_prefix() {
        let allowed = allowed();
        assert_eq!(
            safe_next("https://partner.example.org/app/x?y=1", &allowed),
            "https://partner.example.org/app/x?y=1"
        );
        assert_eq!(
            safe_next("https://partner.example.org/app", &allowed),
            "https://partner.example.org/app"
        );
        for bad in [
            "http://partner.example.org/app/x",
            "https://partner.example.org/other",
            "https://partner.example.org/application",
            "https://partner.example.org:8443/app/x",
        ] {
            assert_eq!(safe_next(bad, &allowed), "/home", "{bad:?}");
        }
    }

    /// E6: same-origin paths, including one whose query holds a URL, and a
    /// scheme-relative URL to our own host.
    #[test]
    fn e6_good_targets() {
        let allowed = allowed();
        assert_eq!(
            safe_next("/dashboard?x=http://evil.com", &allowed),
            "/dashboard?x=http://evil.com"
        );
        assert_eq!(safe_next("//app.example.com/x", &allowed), "/x");
        assert_eq!(
            safe_next("https://app.example.com/a/b#frag", &allowed),
            "/a/b#frag"
        );
        assert_eq!(safe_next("settings", &allowed), "/settings");
        assert_eq!(safe_next("/a/../b", &allowed), "/b");
        // Paths that begin with "//" stay absolute, on our host.
        for tricky in [
            "/.//evil.com",
            "https://app.example.com//evil.com",
            "//app.example.com//evil.com",
        ] {
            assert_eq!(
                safe_next(tricky, &allowed),
                "https://app.example.com//evil.com",
                "{tricky}"
            );
        }
        // WHATWG: a same-scheme URL without "//" is a relative path, and the
        // browser stays on our host.
        assert_eq!(safe_next("https:evil.com", &allowed), "/evil.com");
    }

    /// E7: on an https deployment, an http link to our own host is refused.
    #[test]
    fn e7_scheme_downgrade() {
        assert_eq!(safe_next("http://app.example.com/x", &allowed()), "/home");
    }

    #[test]
    fn configuration_is_validated() {
        assert!(AllowedTargets::new("ftp://x", "/").is_err());
        assert!(AllowedTargets::new("https://x", "https://evil.com").is_err());
        assert!(AllowedTargets::new("https://x", "//evil.com").is_err());
        let ok = AllowedTargets::new("https://x", "/").unwrap();
        assert!(ok.clone().allow("javascript://x").is_err());
        assert!(ok.clone().allow("https://x/?q=1").is_err());
        assert!(ok.allow("not a url").is_err());
        assert_eq!(safe_next(&"/a".repeat(2000), &allowed()), "/home");
        assert_eq!(safe_next("", &allowed()), "/home");
    }
}
