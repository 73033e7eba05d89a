//! What a route requires of an identity.
//!
//! ```
//! use tessera_core::authz::{Denied, Requirement};
//! # use tessera_core::identity::{AuthMethod, Identity};
//! # fn identity(roles: &[&str], scopes: &[&str]) -> Identity {
//! #     let mut id = tessera_core::authz::test_identity();
//! #     id.roles = roles.iter().map(|s| s.to_string()).collect();
//! #     id.scopes = scopes.iter().map(|s| s.to_string()).collect();
//! #     id
//! # }
//!
//! let admin_or_writer = Requirement::any_of([Requirement::role("admin"), Requirement::scope("notes:write")]);
//! assert!(admin_or_writer.check(&identity(&["user"], &["notes:write"])).is_ok());
//! assert_eq!(
//!     Requirement::scope("notes:write").check(&identity(&["user"], &["notes:read"])),
//!     Err(Denied::MissingScope("notes:write".into())),
//! );
//! // An empty requirement denies.
//! assert_eq!(Requirement::all_of([]).check(&identity(&["admin"], &[])), Err(Denied::Empty));
//! ```

use crate::identity::Identity;

/// A requirement named by a type, for the adapters' `Guarded<R>`
/// extractors, which check it in the handler's signature. Define one with
/// [`requirement!`](crate::requirement).
pub trait Requires: Send + Sync + 'static {
    /// The requirement.
    fn requirement() -> Requirement;
}

/// Defines a type naming a requirement, for the adapters' `Guarded<R>`:
/// `requirement!(Writers = Requirement::scope("notes:write"));`
///
/// ```
/// use tessera_core::authz::{Requirement, Requires};
/// use tessera_core::requirement;
///
/// requirement!(
///     /// Administrators, or anyone who may write notes.
///     pub AdminOrWriter = Requirement::any_of([
///         Requirement::role("admin"),
///         Requirement::scope("notes:write"),
///     ])
/// );
/// assert_eq!(AdminOrWriter::requirement(), Requirement::any_of([
///     Requirement::role("admin"),
///     Requirement::scope("notes:write"),
/// ]));
/// ```
#[macro_export]
macro_rules! requirement {
    ($(#[$meta:meta])* $vis:vis $name:ident = $requirement:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis struct $name;

        impl $crate::authz::Requires for $name {
            fn requirement() -> $crate::authz::Requirement {
                $requirement
            }
        }
    };
}

/// A requirement on an identity. Matching is exact and case-sensitive:
/// `Admin` is not `admin`, `read` is not `read:admin`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requirement {
    /// The identity has this role.
    Role(String),
    /// The identity has this scope.
    Scope(String),
    /// A password was entered recently (see [`Identity::fresh`]).
    Fresh,
    /// At least one of these holds. Empty: denies.
    AnyOf(Vec<Requirement>),
    /// All of these hold. Empty: denies.
    AllOf(Vec<Requirement>),
}

/// Why a requirement was not met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denied {
    /// A role is missing (403 `forbidden`).
    #[error("missing role {0:?}")]
    MissingRole(String),
    /// A scope is missing (403 `insufficient_scope`).
    #[error("missing scope {0:?}")]
    MissingScope(String),
    /// A fresh login is required (401 `fresh_login_required`).
    #[error("a fresh login is required")]
    NotFresh,
    /// The requirement was empty: deny by default.
    #[error("empty requirement")]
    Empty,
}

impl Requirement {
    /// The identity has `role`.
    pub fn role(role: impl Into<String>) -> Self {
        Self::Role(role.into())
    }

    /// The identity has `scope`.
    pub fn scope(scope: impl Into<String>) -> Self {
        Self::Scope(scope.into())
    }

    /// Any of `requirements`.
    pub fn any_of(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        Self::AnyOf(requirements.into_iter().collect())
    }

    /// All of `requirements`.
    pub fn all_of(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        Self::AllOf(requirements.into_iter().collect())
    }

    /// Checks `identity`.
    ///
    /// # Errors
    /// The first unmet part, as [`Denied`]; for [`AnyOf`](Self::AnyOf), the
    /// first alternative's reason.
    pub fn check(&self, identity: &Identity) -> Result<(), Denied> {
        match self {
            Self::Role(role) if identity.has_role(role) => Ok(()),
            Self::Role(role) => Err(Denied::MissingRole(role.clone())),
            Self::Scope(scope) if identity.has_scope(scope) => Ok(()),
            Self::Scope(scope) => Err(Denied::MissingScope(scope.clone())),
            Self::Fresh if identity.fresh => Ok(()),
            Self::Fresh => Err(Denied::NotFresh),
            Self::AnyOf(all) | Self::AllOf(all) if all.is_empty() => Err(Denied::Empty),
            Self::AllOf(all) => all.iter().try_for_each(|r| r.check(identity)),
            Self::AnyOf(any) => {
                let mut first = None;
                for requirement in any {
                    match requirement.check(identity) {
                        Ok(()) => return Ok(()),
                        Err(denied) => {
                            first.get_or_insert(denied);
                        }
                    }
                }
                Err(first.unwrap_or(Denied::Empty))
            }
        }
    }
}

/// An identity with no roles or scopes, for examples and tests.
#[doc(hidden)]
pub fn test_identity() -> Identity {
    Identity {
        subject: crate::users::UserId::new("test"),
        roles: Default::default(),
        scopes: Default::default(),
        method: crate::identity::AuthMethod::Jwt,
        token_id: None,
        family: None,
        fresh: false,
        authenticated_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(roles: &[&str], scopes: &[&str], fresh: bool) -> Identity {
        let mut id = test_identity();
        id.roles = roles.iter().map(|s| (*s).to_owned()).collect();
        id.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        id.fresh = fresh;
        id
    }

    /// J2, J4, J5: missing role, exact matching, empty requirements.
    #[test]
    fn j2_j4_j5_roles_scopes_and_empty() {
        let user = identity(&["user"], &["read"], false);
        assert_eq!(
            Requirement::role("admin").check(&user),
            Err(Denied::MissingRole("admin".into()))
        );
        assert_eq!(
            Requirement::role("User").check(&user),
            Err(Denied::MissingRole("User".into()))
        );
        assert!(Requirement::role("user").check(&user).is_ok());
        assert_eq!(
            Requirement::scope("read:admin").check(&user),
            Err(Denied::MissingScope("read:admin".into()))
        );
        assert!(Requirement::scope("read").check(&user).is_ok());
        assert_eq!(Requirement::any_of([]).check(&user), Err(Denied::Empty));
        assert_eq!(Requirement::all_of([]).check(&user), Err(Denied::Empty));
        assert_eq!(
            Requirement::all_of([Requirement::role("user"), Requirement::Fresh]).check(&user),
            Err(Denied::NotFresh)
        );
        let fresh = identity(&["user"], &[], true);
        assert!(
            Requirement::all_of([Requirement::role("user"), Requirement::Fresh])
                .check(&fresh)
                .is_ok()
        );
        assert!(
            Requirement::any_of([Requirement::role("admin"), Requirement::scope("read")])
                .check(&user)
                .is_ok()
        );
        assert_eq!(
            Requirement::any_of([Requirement::role("admin"), Requirement::scope("write")])
                .check(&user),
            Err(Denied::MissingRole("admin".into()))
        );
    }
}
