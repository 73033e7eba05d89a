//! The example resource: notes, kept in memory per account.
//!
//! A stand-in for your application's own data. It is lost on restart and
//! not shared between instances: replace it with a table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use tessera_core::users::UserId;

/// A note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// Opaque id.
    pub id: String,
    /// The text.
    pub text: String,
}

/// Notes by account, in memory.
#[derive(Debug, Clone, Default)]
pub struct Notes {
    by_owner: Arc<Mutex<HashMap<UserId, Vec<Note>>>>,
}

impl Notes {
    /// No notes.
    pub fn new() -> Self {
        Self::default()
    }

    /// `owner`'s notes, oldest first.
    pub fn list(&self, owner: &UserId) -> Vec<Note> {
        self.lock().get(owner).cloned().unwrap_or_default()
    }

    /// Adds a note for `owner`.
    ///
    /// # Errors
    /// When the operating system's random number generator fails.
    pub fn add(&self, owner: &UserId, text: String) -> Result<Note, rand::rngs::SysError> {
        let note = Note {
            id: crate::random::id()?,
            text,
        };
        self.lock()
            .entry(owner.clone())
            .or_default()
            .push(note.clone());
        Ok(note)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Vec<Note>>> {
        // Nothing panics while holding the lock; the map stays consistent.
        self.by_owner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
