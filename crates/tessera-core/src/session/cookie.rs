//! Session cookie attributes, as data the adapters apply.

use std::fmt;
use std::time::Duration;

/// The cookie name with the `__Host-` prefix, the default: the browser only
/// accepts it with `Secure`, `Path=/` and no `Domain`, so a sibling
/// subdomain cannot set or overwrite it.
pub const HOST_NAME: &str = "__Host-tessera_session";
/// The cookie name without a prefix, for plain-http development.
pub const PLAIN_NAME: &str = "tessera_session";

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their
    /// sub-requests or form posts (the default).
    Lax,
    /// Never sent on requests started by other sites.
    Strict,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
        }
    }
}

/// How the session cookie is set.
///
/// The default is `__Host-tessera_session` with `Secure`, `HttpOnly`,
/// `SameSite=Lax`, `Path=/` and no `Domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    name: String,
    secure: bool,
    same_site: SameSite,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            name: HOST_NAME.to_owned(),
            secure: true,
            same_site: SameSite::Lax,
        }
    }
}

impl CookieSettings {
    /// `SameSite=Strict` instead of `Lax`: links from other sites then
    /// arrive logged out.
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Drops `Secure` and the `__Host-` prefix (name `tessera_session`), so
    /// the cookie works over plain http. For local development only: over
    /// http the cookie can be read and replaced by anyone on the network.
    pub fn dangerous_insecure_http(mut self) -> Self {
        self.name = PLAIN_NAME.to_owned();
        self.secure = false;
        self
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `Secure` is set.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The `SameSite` attribute.
    pub fn same_site_attr(&self) -> SameSite {
        self.same_site
    }

    pub(crate) fn cookie(&self, value: &str, max_age: Option<Duration>) -> SessionCookie {
        SessionCookie {
            settings: self.clone(),
            value: value.to_owned(),
            max_age,
            removal: false,
        }
    }

    pub(crate) fn removal(&self) -> SessionCookie {
        SessionCookie {
            settings: self.clone(),
            value: String::new(),
            max_age: Some(Duration::ZERO),
            removal: true,
        }
    }
}

/// A session cookie to set: name, value and attributes. Its `Debug` hides
/// the value, which is the session id.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionCookie {
    settings: CookieSettings,
    value: String,
    max_age: Option<Duration>,
    removal: bool,
}

impl SessionCookie {
    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// The value (the session id, or empty for a removal).
    pub fn expose_value(&self) -> &str {
        &self.value
    }

    /// `Max-Age`: `Some` for a persistent (remember-me) cookie or a
    /// removal, `None` for a browser-session cookie.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// Whether `Secure` is set.
    pub fn secure(&self) -> bool {
        self.settings.secure
    }

    /// `HttpOnly` is always set.
    pub fn http_only(&self) -> bool {
        true
    }

    /// The `SameSite` attribute.
    pub fn same_site(&self) -> SameSite {
        self.settings.same_site
    }

    /// `Path=/`, always.
    pub fn path(&self) -> &str {
        "/"
    }

    /// The `Set-Cookie` header value.
    pub fn header_value(&self) -> String {
        let mut header = format!("{}={}", self.settings.name, self.value);
        if let Some(max_age) = self.max_age {
            header.push_str(&format!("; Max-Age={}", max_age.as_secs()));
        }
        if self.removal {
            header.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        header.push_str("; Path=/; HttpOnly; SameSite=");
        header.push_str(self.settings.same_site.as_str());
        if self.settings.secure {
            header.push_str("; Secure");
        }
        header
    }
}

impl fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCookie")
            .field("name", &self.settings.name)
            .field("value", &"[redacted]")
            .field("max_age", &self.max_age)
            .field("secure", &self.settings.secure)
            .field("same_site", &self.settings.same_site)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C5 and C16: attributes of the cookie and of its removal.
    #[test]
    fn c5_c16_cookie_attributes() {
        let settings = CookieSettings::default();
        let cookie = settings.cookie("abc", None);
        assert_eq!(
            cookie.header_value(),
            "__Host-tessera_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(!cookie.header_value().contains("Domain"));
        let remembered = settings.cookie("abc", Some(Duration::from_secs(2_592_000)));
        assert!(remembered.header_value().contains("; Max-Age=2592000;"));
        let removal = settings.removal();
        assert_eq!(
            removal.header_value(),
            "__Host-tessera_session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(!format!("{cookie:?}").contains("abc"));
    }

    #[test]
    fn insecure_development_cookies_are_named_and_explicit() {
        let settings = CookieSettings::default().dangerous_insecure_http();
        assert_eq!(
            settings.removal().header_value(),
            "tessera_session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax"
        );
        let strict = CookieSettings::default().same_site(SameSite::Strict);
        assert!(
            strict
                .cookie("x", None)
                .header_value()
                .contains("SameSite=Strict")
        );
    }
}
