//! The five store traits, written once for both backends.
//!
//! The SQL is the same for SQLite and PostgreSQL (`$n` parameters work in
//! both) except where the backend module's `dialect` says otherwise; the
//! macro only exists because sqlx's executors are easier to use with
//! concrete types than behind a wall of generic bounds.

/// Implements `purge_expired` and the five traits for `$store`, a struct
/// with fields `pool: Pool<$db>` and `options: StoreOptions` and a method
/// `begin_write` that starts a transaction holding the write lock (SQLite)
/// or a plain one (PostgreSQL). `$dialect` is a module with the statements
/// that differ.
macro_rules! impl_store {
    ($store:ident, $db:ty, $dialect:ident) => {
        type Args<'q> = <$db as sqlx::Database>::Arguments<'q>;
        type Query<'q> = sqlx::query::Query<'q, $db, Args<'q>>;

        impl $store {
            /// Deletes everything that can no longer be used at `now`:
            /// expired, revoked and used-up refresh tokens and their
            /// families (as [`TokenStore::purge_expired`]), expired API
            /// keys, expired sessions
            /// ([`SessionStore::purge_expired`]), one-time entries and
            /// revocations whose `until` has passed, and throttling rows
            /// that no longer matter. Returns how many rows
            /// went.
            ///
            /// Schedule it (every few minutes to once a day, as the tables'
            /// growth requires): correctness never depends on it, since
            /// every read checks expiry itself.
            ///
            /// This inherent method is what `store.purge_expired(now)`
            /// calls; each trait's own is reached as, for example,
            /// `TokenStore::purge_expired(&store, now)`.
            ///
            /// # Errors
            /// [`StoreError::Unavailable`] when the database fails or a
            /// step takes longer than the deadline; steps that finished stay
            /// done.
            pub async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
                let tokens = TokenStore::purge_expired(self, now).await?;
                let sessions = SessionStore::purge_expired(self, now).await?;
                let onetime = OneTimeStore::purge_expired(self, now).await?;
                let now_ms = to_ms(now);
                let throttle = self
                    .run("purge_throttle", || async move {
                        Ok(
                            sqlx::query("DELETE FROM tessera_throttle WHERE expires <= $1")
                                .bind(now_ms)
                                .execute(&self.pool)
                                .await?
                                .rows_affected(),
                        )
                    })
                    .await?;
                let revocations = self
                    .run("purge_revocations", || async move {
                        Ok(
                            sqlx::query("DELETE FROM tessera_revocations WHERE keep_until <= $1")
                                .bind(now_ms)
                                .execute(&self.pool)
                                .await?
                                .rows_affected(),
                        )
                    })
                    .await?;
                Ok(tokens + sessions + onetime + revocations + throttle)
            }

            async fn run<T, F, Fut>(
                &self,
                operation: &'static str,
                attempt: F,
            ) -> Result<T, StoreError>
            where
                F: FnMut() -> Fut,
                Fut: std::future::Future<Output = Result<T, Failure>>,
            {
                run(&self.options, operation, attempt).await
            }

            async fn fetch_user(&self, query: Query<'_>) -> Result<Option<User>, Failure> {
                let row = query
                    .try_map(|row| <UserRow as sqlx::FromRow<'_, _>>::from_row(&row))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.and_then(|row| or_absent("tessera_users", row.decode())))
            }

            async fn fetch_token(
                executor: &mut <$db as sqlx::Database>::Connection,
                sql: &'static str,
                digest: &TokenDigest,
            ) -> Result<Option<StoredToken>, Failure> {
                let row = sqlx::query_as::<_, TokenRow>(sql)
                    .bind(&digest.as_bytes()[..])
                    .fetch_optional(executor)
                    .await?;
                Ok(row.and_then(|row| or_absent("tessera_tokens", row.decode())))
            }
        }

        fn bind_token<'q>(query: Query<'q>, values: &'q TokenValues) -> Query<'q> {
            query
                .bind(&values.digest[..])
                .bind(values.id.as_str())
                .bind(values.kind)
                .bind(values.subject.as_str())
                .bind(values.family_id.as_deref())
                .bind(values.name.as_deref())
                .bind(values.scopes.as_str())
                .bind(values.created_at)
                .bind(values.expires_at)
                .bind(values.last_used_at)
        }

        /// A plain `INSERT`: a stored digest is never overwritten (the
        /// primary key refuses it, and the caller reports a conflict).
        const INSERT_TOKEN: &str = concat!(
            "INSERT INTO tessera_tokens (digest, id, kind, subject, family_id, name, scopes, ",
            "created_at, expires_at, last_used_at, revoked, used_at, successor) ",
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, FALSE, NULL, NULL)"
        );

        /// Runs a statement that inserts a token; a unique violation is
        /// [`StoreError::Conflict`], final and never retried.
        async fn insert_token(
            executor: &mut <$db as sqlx::Database>::Connection,
            values: &TokenValues,
            conflict: &'static str,
        ) -> Result<(), Failure> {
            match bind_token(sqlx::query(INSERT_TOKEN), values)
                .execute(executor)
                .await
            {
                Ok(_) => Ok(()),
                Err(error) if is_unique_violation(&error) => {
                    Err(Failure::Store(StoreError::Conflict(conflict)))
                }
                Err(error) => Err(error.into()),
            }
        }

        #[async_trait]
        impl UserStore for $store {
            async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError> {
                self.run("find_by_login", || {
                    self.fetch_user(
                        sqlx::query(concat!(
                            "SELECT ",
                            user_columns!(),
                            " FROM tessera_users WHERE login = $1"
                        ))
                        .bind(login.as_str()),
                    )
                })
                .await
            }

            async fn list_users(
                &self,
                after: Option<&UserId>,
                limit: usize,
            ) -> Result<Vec<User>, StoreError> {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let after = after.map(UserId::as_str);
                self.run("list_users", || async move {
                    let rows = sqlx::query_as::<_, UserRow>(concat!(
                        "SELECT ",
                        user_columns!(),
                        " FROM tessera_users WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
                    ))
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows
                        .into_iter()
                        .filter_map(|row| or_absent("tessera_users", row.decode()))
                        .collect())
                })
                .await
            }

            async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
                self.run("find_by_id", || {
                    self.fetch_user(
                        sqlx::query(concat!(
                            "SELECT ",
                            user_columns!(),
                            " FROM tessera_users WHERE id = $1"
                        ))
                        .bind(id.as_str()),
                    )
                })
                .await
            }

            async fn create(&self, user: NewUser, at: SystemTime) -> Result<User, CreateUserError> {
                let id = random_id()?;
                let roles = encode_set(&user.roles);
                let at = to_ms(at);
                let (id, roles, user) = (&id, &roles, &user);
                let created = self
                    .run("create_user", || async move {
                        // The unique login column decides, also between
                        // racing creates: the loser inserts nothing.
                        let row = sqlx::query_as::<_, UserRow>(concat!(
                            "INSERT INTO tessera_users (id, login, password_hash, roles, active, ",
                            "created_at, last_login_at, password_changed_at) ",
                            "VALUES ($1, $2, $3, $4, $5, $6, NULL, $6) ",
                            "ON CONFLICT (login) DO NOTHING RETURNING ",
                            user_columns!()
                        ))
                        .bind(id.as_str())
                        .bind(user.login.as_str())
                        .bind(user.password_hash.as_str())
                        .bind(roles.as_str())
                        .bind(user.active)
                        .bind(at)
                        .fetch_optional(&self.pool)
                        .await?;
                        Ok(row.map(UserRow::decode))
                    })
                    .await?;
                match created {
                    Some(Ok(user)) => Ok(user),
                    Some(Err(corrupt)) => {
                        warn_corrupt("tessera_users", corrupt);
                        Err(StoreError::Corrupted(Box::new(Message(
                            "the created account does not read back",
                        )))
                        .into())
                    }
                    None => Err(CreateUserError::LoginTaken),
                }
            }

            async fn update_password_hash(
                &self,
                id: &UserId,
                password_hash: &str,
                update: PasswordUpdate,
            ) -> Result<Option<User>, StoreError> {
                let update = &update;
                self.run("update_password_hash", || {
                    let query = match update {
                        PasswordUpdate::Changed { at } => sqlx::query(concat!(
                            "UPDATE tessera_users SET password_hash = $2, password_changed_at = $3 ",
                            "WHERE id = $1 RETURNING ",
                            user_columns!()
                        ))
                        .bind(id.as_str())
                        .bind(password_hash)
                        .bind(to_ms(*at)),
                        // Compare-and-swap: a rehash never overwrites a
                        // password changed since the login verified it.
                        PasswordUpdate::Rehash { previous } => sqlx::query(concat!(
                            "UPDATE tessera_users SET password_hash = $2 ",
                            "WHERE id = $1 AND password_hash = $3 RETURNING ",
                            user_columns!()
                        ))
                        .bind(id.as_str())
                        .bind(password_hash)
                        .bind(previous.as_str()),
                    };
                    self.fetch_user(query)
                })
                .await
            }

            async fn set_roles(
                &self,
                id: &UserId,
                roles: &BTreeSet<String>,
            ) -> Result<Option<User>, StoreError> {
                let roles = &encode_set(roles);
                self.run("set_roles", || {
                    self.fetch_user(
                        sqlx::query(concat!(
                            "UPDATE tessera_users SET roles = $2 WHERE id = $1 RETURNING ",
                            user_columns!()
                        ))
                        .bind(id.as_str())
                        .bind(roles.as_str()),
                    )
                })
                .await
            }

            async fn set_active(
                &self,
                id: &UserId,
                active: bool,
            ) -> Result<Option<User>, StoreError> {
                self.run("set_active", || {
                    self.fetch_user(
                        sqlx::query(concat!(
                            "UPDATE tessera_users SET active = $2 WHERE id = $1 RETURNING ",
                            user_columns!()
                        ))
                        .bind(id.as_str())
                        .bind(active),
                    )
                })
                .await
            }

            async fn record_login(
                &self,
                id: &UserId,
                at: SystemTime,
            ) -> Result<Option<User>, StoreError> {
                let at = to_ms(at);
                self.run("record_login", || {
                    self.fetch_user(
                        sqlx::query(concat!(
                            "UPDATE tessera_users SET last_login_at = $2 WHERE id = $1 RETURNING ",
                            user_columns!()
                        ))
                        .bind(id.as_str())
                        .bind(at),
                    )
                })
                .await
            }
        }

        #[async_trait]
        impl TokenStore for $store {
            async fn insert(&self, record: TokenRecord) -> Result<(), StoreError> {
                let values = &TokenValues::of(&record);
                self.run("insert_token", || async move {
                    let mut conn = self.pool.acquire().await?;
                    insert_token(&mut conn, values, "token digest already stored").await
                })
                .await
            }

            async fn start_family(
                &self,
                family: Family,
                first: TokenRecord,
            ) -> Result<(), StoreError> {
                let values = &TokenValues::of(&first);
                let family = &family;
                self.run("start_family", || async move {
                    // One transaction: on a conflict neither row is written.
                    let mut tx = self.begin_write().await?;
                    let started = sqlx::query(concat!(
                        "INSERT INTO tessera_token_families (id, subject, created_at, expires_at, revoked) ",
                        "VALUES ($1, $2, $3, $4, FALSE)"
                    ))
                    .bind(family.id.as_str())
                    .bind(family.subject.as_str())
                    .bind(to_ms(family.created_at))
                    .bind(to_ms(family.expires_at))
                    .execute(&mut *tx)
                    .await;
                    match started {
                        Ok(_) => {}
                        // Never a revoked family brought back to life.
                        Err(error) if is_unique_violation(&error) => {
                            tx.rollback().await?;
                            return Err(Failure::Store(StoreError::Conflict(
                                "family id already stored",
                            )));
                        }
                        Err(error) => return Err(error.into()),
                    }
                    if let Err(failure) =
                        insert_token(&mut tx, values, "token digest already stored").await
                    {
                        tx.rollback().await?;
                        return Err(failure);
                    }
                    tx.commit().await?;
                    Ok(())
                })
                .await
            }

            async fn find(
                &self,
                digest: &TokenDigest,
                now: SystemTime,
            ) -> Result<Option<TokenRecord>, StoreError> {
                let now_ms = to_ms(now);
                self.run("find_token", || async move {
                    let mut conn = self.pool.acquire().await?;
                    let stored = Self::fetch_token(
                        &mut conn,
                        concat!(token_select!(), " WHERE t.digest = $1"),
                        digest,
                    )
                    .await?;
                    Ok(stored
                        .filter(|t| t.is_live(now_ms))
                        .map(|t| t.record))
                })
                .await
            }

            async fn rotate(
                &self,
                presented: &TokenDigest,
                successor: Successor,
                now: SystemTime,
                grace: Duration,
            ) -> Result<Rotation, StoreError> {
                let now = normalise(now);
                let now_ms = to_ms(now);
                let successor = &successor;
                self.run("rotate", || async move {
                    // SQLite: the write lock is taken first (BEGIN
                    // IMMEDIATE); PostgreSQL: the presented row is locked
                    // (FOR UPDATE). Either way racing rotations of one token
                    // run one after the other, and each sees what the
                    // previous one committed.
                    let mut tx = self.begin_write().await?;
                    let stored =
                        Self::fetch_token(&mut tx, $dialect::SELECT_TOKEN_FOR_ROTATION, presented)
                            .await?;
                    let Some(stored) = stored else {
                        tx.rollback().await?;
                        return Ok(Rotation::Invalid);
                    };
                    // The family is read again, in a statement of its own
                    // (PostgreSQL: a fresh snapshot, and its row locked), so
                    // that a rotation that waited for the token's lock sees
                    // the family as the previous holder left it: after one
                    // reuse revoked it, the next presentation is Revoked,
                    // not another reuse.
                    let family = match &stored.record.family {
                        Some(id) => sqlx::query_as::<_, FamilyStateRow>(
                            $dialect::SELECT_FAMILY_FOR_ROTATION,
                        )
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?
                        .and_then(|row| or_absent("tessera_token_families", row.decode())),
                        None => None,
                    };
                    // In the trait's order: not a live refresh token, or of
                    // an expired family, is Invalid; of a revoked family,
                    // Revoked; then used or not.
                    let family = match &family {
                        Some(family)
                            if stored.record.kind == TokenKind::Refresh
                                && !stored.revoked
                                && !stored.is_expired(now_ms)
                                && now_ms < to_ms(family.family.expires_at) =>
                        {
                            family
                        }
                        _ => {
                            tx.rollback().await?;
                            return Ok(Rotation::Invalid);
                        }
                    };
                    if family.revoked {
                        tx.rollback().await?;
                        return Ok(Rotation::Revoked {
                            family: family.family.clone(),
                        });
                    }
                    let family = family.family.clone();
                    let previous = stored.record;
                    match stored.used {
                        None => {
                            let record =
                                normalise_record(successor.record(&previous, &family, now));
                            let used = sqlx::query(concat!(
                                "UPDATE tessera_tokens SET used_at = $2, successor = $3 ",
                                "WHERE digest = $1 AND used_at IS NULL AND revoked = FALSE"
                            ))
                            .bind(&presented.as_bytes()[..])
                            .bind(now_ms)
                            .bind(&record.digest.as_bytes()[..])
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                            if used != 1 {
                                tx.rollback().await?;
                                return Err(Failure::Raced("the presented token changed under its lock"));
                            }
                            let values = TokenValues::of(&record);
                            if let Err(failure) =
                                insert_token(&mut tx, &values, "successor digest already stored")
                                    .await
                            {
                                // All or nothing: the presented token stays
                                // unused.
                                tx.rollback().await?;
                                return Err(failure);
                            }
                            tx.commit().await?;
                            Ok(Rotation::Rotated {
                                previous,
                                successor: record,
                            })
                        }
                        Some((used_at, successor_digest)) => {
                            let within_grace = now_ms
                                .checked_sub(used_at)
                                .and_then(|age| u64::try_from(age).ok())
                                .is_some_and(|age| Duration::from_millis(age) < grace);
                            let live_successor = match &successor_digest {
                                Some(digest) => Self::fetch_token(
                                    &mut tx,
                                    concat!(token_select!(), " WHERE t.digest = $1"),
                                    digest,
                                )
                                .await?
                                .filter(|t| t.is_live(now_ms)),
                                None => None,
                            };
                            match live_successor {
                                Some(live) if within_grace => {
                                    tx.rollback().await?;
                                    Ok(Rotation::Grace {
                                        previous,
                                        successor: live.record,
                                    })
                                }
                                _ => {
                                    sqlx::query(
                                        "UPDATE tessera_token_families SET revoked = TRUE WHERE id = $1",
                                    )
                                    .bind(family.id.as_str())
                                    .execute(&mut *tx)
                                    .await?;
                                    tx.commit().await?;
                                    Ok(Rotation::Reused { family })
                                }
                            }
                        }
                    }
                })
                .await
            }

            async fn revoke(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
                self.run("revoke_token", || async move {
                    let revoked = sqlx::query(
                        "UPDATE tessera_tokens SET revoked = TRUE WHERE digest = $1 AND revoked = FALSE",
                    )
                    .bind(&digest.as_bytes()[..])
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    Ok(revoked > 0)
                })
                .await
            }

            async fn revoke_api_key(
                &self,
                subject: &UserId,
                id: &TokenId,
            ) -> Result<bool, StoreError> {
                self.run("revoke_api_key", || async move {
                    let revoked = sqlx::query(concat!(
                        "UPDATE tessera_tokens SET revoked = TRUE ",
                        "WHERE kind = 'api_key' AND id = $1 AND subject = $2 AND revoked = FALSE"
                    ))
                    .bind(id.as_str())
                    .bind(subject.as_str())
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    Ok(revoked > 0)
                })
                .await
            }

            async fn revoke_family(&self, family: &FamilyId) -> Result<Option<Family>, StoreError> {
                self.run("revoke_family", || async move {
                    let row = sqlx::query_as::<_, FamilyRow>(concat!(
                        "UPDATE tessera_token_families SET revoked = TRUE WHERE id = $1 ",
                        "RETURNING id, subject, created_at, expires_at"
                    ))
                    .bind(family.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(row.and_then(|row| or_absent("tessera_token_families", row.decode())))
                })
                .await
            }

            async fn revoke_subject(
                &self,
                subject: &UserId,
                scope: RevokeScope,
            ) -> Result<Vec<Family>, StoreError> {
                self.run("revoke_subject", || async move {
                    // Every family still held comes back, revoked before
                    // or not, so the caller can propagate the revocation
                    // again if an earlier propagation failed.
                    let mut tx = self.begin_write().await?;
                    let rows = sqlx::query_as::<_, FamilyRow>(concat!(
                        "UPDATE tessera_token_families SET revoked = TRUE ",
                        "WHERE subject = $1 RETURNING id, subject, created_at, expires_at"
                    ))
                    .bind(subject.as_str())
                    .fetch_all(&mut *tx)
                    .await?;
                    if scope == RevokeScope::Everything {
                        sqlx::query(
                            "UPDATE tessera_tokens SET revoked = TRUE WHERE subject = $1 AND kind = 'api_key'",
                        )
                        .bind(subject.as_str())
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    let mut families: Vec<Family> = rows
                        .into_iter()
                        .filter_map(|row| or_absent("tessera_token_families", row.decode()))
                        .collect();
                    families.sort_by(|a, b| {
                        a.created_at
                            .cmp(&b.created_at)
                            .then_with(|| a.id.cmp(&b.id))
                    });
                    Ok(families)
                })
                .await
            }

            async fn list_api_keys(
                &self,
                subject: &UserId,
                now: SystemTime,
            ) -> Result<Vec<TokenRecord>, StoreError> {
                let now_ms = to_ms(now);
                self.run("list_api_keys", || async move {
                    let rows = sqlx::query_as::<_, TokenRow>(concat!(
                        token_select!(),
                        " WHERE t.kind = 'api_key' AND t.subject = $1 AND t.revoked = FALSE ",
                        "AND (t.expires_at IS NULL OR t.expires_at > $2) ",
                        "ORDER BY t.created_at, t.id"
                    ))
                    .bind(subject.as_str())
                    .bind(now_ms)
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows
                        .into_iter()
                        .filter_map(|row| or_absent("tessera_tokens", row.decode()))
                        .map(|t| t.record)
                        .collect())
                })
                .await
            }

            async fn record_use(&self, digest: &TokenDigest, at: SystemTime) -> Result<(), StoreError> {
                let at = to_ms(at);
                self.run("record_use", || async move {
                    sqlx::query("UPDATE tessera_tokens SET last_used_at = $2 WHERE digest = $1")
                        .bind(&digest.as_bytes()[..])
                        .bind(at)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
                .await
            }

            async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
                let now_ms = to_ms(now);
                self.run("purge_tokens", || async move {
                    let mut tx = self.begin_write().await?;
                    let families = sqlx::query(
                        "DELETE FROM tessera_token_families WHERE revoked = TRUE OR expires_at <= $1",
                    )
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    // Used refresh tokens stay while their family lives:
                    // they are what reuse detection recognises.
                    let tokens = sqlx::query(concat!(
                        "DELETE FROM tessera_tokens WHERE revoked = TRUE ",
                        "OR (expires_at IS NOT NULL AND expires_at <= $1) ",
                        "OR (family_id IS NOT NULL AND NOT EXISTS ",
                        "(SELECT 1 FROM tessera_token_families f WHERE f.id = tessera_tokens.family_id))"
                    ))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    tx.commit().await?;
                    Ok(families + tokens)
                })
                .await
            }
        }

        #[async_trait]
        impl Revocations for $store {
            async fn revoke_token(&self, jti: &str, until: SystemTime) -> Result<(), StoreError> {
                self.revoke_entry("revoke_jti", "token", jti, None, until).await
            }

            async fn revoke_family(
                &self,
                family: &FamilyId,
                until: SystemTime,
            ) -> Result<(), StoreError> {
                self.revoke_entry("revoke_family_tokens", "family", family.as_str(), None, until)
                    .await
            }

            async fn revoke_subject_before(
                &self,
                subject: &UserId,
                before: SystemTime,
                until: SystemTime,
            ) -> Result<(), StoreError> {
                self.revoke_entry(
                    "revoke_subject_before",
                    "subject",
                    subject.as_str(),
                    Some(to_ms_ceil(before)),
                    until,
                )
                .await
            }

            async fn is_revoked(
                &self,
                token: RevocationCheck<'_>,
                now: SystemTime,
            ) -> Result<bool, StoreError> {
                let now_ms = to_ms(now);
                let issued_at = to_ms(token.issued_at);
                self.run("is_revoked", || async move {
                    let matches: i64 = sqlx::query_scalar(concat!(
                        "SELECT COUNT(*) FROM tessera_revocations WHERE keep_until > $1 AND (",
                        "(kind = 'token' AND target = $2) ",
                        "OR (kind = 'family' AND target = $3) ",
                        "OR (kind = 'subject' AND target = $4 AND not_before > $5))"
                    ))
                    .bind(now_ms)
                    .bind(token.jti)
                    .bind(token.family)
                    .bind(token.subject)
                    .bind(issued_at)
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(matches > 0)
                })
                .await
            }
        }

        impl $store {
            /// Adds a revocation entry, or extends one: the later `until`
            /// and the later cut-off win.
            async fn revoke_entry(
                &self,
                operation: &'static str,
                kind: &'static str,
                target: &str,
                not_before: Option<i64>,
                until: SystemTime,
            ) -> Result<(), StoreError> {
                let until = to_ms_ceil(until);
                self.run(operation, || async move {
                    sqlx::query($dialect::UPSERT_REVOCATION)
                        .bind(kind)
                        .bind(target)
                        .bind(not_before)
                        .bind(until)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
                .await
            }
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn create(
                &self,
                digest: &TokenDigest,
                state: &SessionState,
            ) -> Result<bool, StoreError> {
                let values = &SessionValues::of(state)?;
                self.run("create_session", || async move {
                    let created = sqlx::query(concat!(
                        "INSERT INTO tessera_sessions (digest, subject, expires_at, state) ",
                        "VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING"
                    ))
                    .bind(&digest.as_bytes()[..])
                    .bind(values.subject.as_deref())
                    .bind(values.expires_at)
                    .bind(&values.state[..])
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    Ok(created == 1)
                })
                .await
            }

            async fn load(
                &self,
                digest: &TokenDigest,
                now: SystemTime,
            ) -> Result<Option<SessionState>, StoreError> {
                let now = normalise(now);
                self.run("load_session", || async move {
                    let bytes: Option<Vec<u8>> =
                        sqlx::query_scalar("SELECT state FROM tessera_sessions WHERE digest = $1")
                            .bind(&digest.as_bytes()[..])
                            .fetch_optional(&self.pool)
                            .await?;
                    let Some(bytes) = bytes else {
                        return Ok(None);
                    };
                    match decode_session(&bytes) {
                        Some(state) if !state.is_expired(now) => Ok(Some(state)),
                        _ => {
                            // Expired or unreadable: gone. Only the record
                            // read is deleted, not one written since.
                            sqlx::query(
                                "DELETE FROM tessera_sessions WHERE digest = $1 AND state = $2",
                            )
                            .bind(&digest.as_bytes()[..])
                            .bind(&bytes[..])
                            .execute(&self.pool)
                            .await?;
                            Ok(None)
                        }
                    }
                })
                .await
            }

            async fn save(
                &self,
                digest: &TokenDigest,
                state: &SessionState,
            ) -> Result<bool, StoreError> {
                let values = &SessionValues::of(state)?;
                self.run("save_session", || async move {
                    // An UPDATE, never an upsert: a session deleted
                    // meanwhile (logout) stays deleted.
                    let saved = sqlx::query(concat!(
                        "UPDATE tessera_sessions SET subject = $2, expires_at = $3, state = $4 ",
                        "WHERE digest = $1"
                    ))
                    .bind(&digest.as_bytes()[..])
                    .bind(values.subject.as_deref())
                    .bind(values.expires_at)
                    .bind(&values.state[..])
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    Ok(saved > 0)
                })
                .await
            }

            async fn rotate(
                &self,
                old: &TokenDigest,
                new: &TokenDigest,
                state: &SessionState,
            ) -> Result<Moved, StoreError> {
                let values = &SessionValues::of(state)?;
                self.run("rotate_session", || async move {
                    if old == new {
                        let exists: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM tessera_sessions WHERE digest = $1",
                        )
                        .bind(&old.as_bytes()[..])
                        .fetch_one(&self.pool)
                        .await?;
                        return Ok(if exists > 0 {
                            Moved::Taken
                        } else {
                            Moved::Gone
                        });
                    }
                    let mut tx = self.begin_write().await?;
                    let deleted = sqlx::query("DELETE FROM tessera_sessions WHERE digest = $1")
                        .bind(&old.as_bytes()[..])
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if deleted == 0 {
                        tx.rollback().await?;
                        return Ok(Moved::Gone);
                    }
                    let inserted = sqlx::query(concat!(
                        "INSERT INTO tessera_sessions (digest, subject, expires_at, state) ",
                        "VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING"
                    ))
                    .bind(&new.as_bytes()[..])
                    .bind(values.subject.as_deref())
                    .bind(values.expires_at)
                    .bind(&values.state[..])
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 0 {
                        // The old session comes back with the rollback.
                        tx.rollback().await?;
                        return Ok(Moved::Taken);
                    }
                    tx.commit().await?;
                    Ok(Moved::Done)
                })
                .await
            }

            async fn delete(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
                self.run("delete_session", || async move {
                    let deleted = sqlx::query("DELETE FROM tessera_sessions WHERE digest = $1")
                        .bind(&digest.as_bytes()[..])
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    Ok(deleted > 0)
                })
                .await
            }

            async fn list_subject(
                &self,
                subject: &UserId,
                now: SystemTime,
            ) -> Result<Vec<(TokenDigest, SessionState)>, StoreError> {
                let now = normalise(now);
                let now_ms = to_ms(now);
                self.run("list_sessions", || async move {
                    let rows = sqlx::query_as::<_, SessionRow>(concat!(
                        "SELECT digest, state FROM tessera_sessions ",
                        "WHERE subject = $1 AND expires_at > $2"
                    ))
                    .bind(subject.as_str())
                    .bind(now_ms)
                    .fetch_all(&self.pool)
                    .await?;
                    let mut sessions: Vec<(TokenDigest, SessionState)> = rows
                        .into_iter()
                        .filter_map(decode_session_row)
                        .filter(|(_, state)| {
                            state.subject.as_deref() == Some(subject.as_str())
                                && !state.is_expired(now)
                        })
                        .collect();
                    sessions.sort_by(|a, b| {
                        a.1.created_at
                            .cmp(&b.1.created_at)
                            .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
                    });
                    Ok(sessions)
                })
                .await
            }

            async fn delete_subject(
                &self,
                subject: &UserId,
                keep: Option<&TokenDigest>,
            ) -> Result<u64, StoreError> {
                self.run("delete_sessions", || async move {
                    let query = match keep {
                        Some(keep) => sqlx::query(
                            "DELETE FROM tessera_sessions WHERE subject = $1 AND digest <> $2",
                        )
                        .bind(subject.as_str())
                        .bind(&keep.as_bytes()[..]),
                        None => sqlx::query("DELETE FROM tessera_sessions WHERE subject = $1")
                            .bind(subject.as_str()),
                    };
                    Ok(query.execute(&self.pool).await?.rows_affected())
                })
                .await
            }

            async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
                let now_ms = to_ms(now);
                self.run("purge_sessions", || async move {
                    Ok(
                        sqlx::query("DELETE FROM tessera_sessions WHERE expires_at <= $1")
                            .bind(now_ms)
                            .execute(&self.pool)
                            .await?
                            .rows_affected(),
                    )
                })
                .await
            }
        }

        #[async_trait]
        impl OneTimeStore for $store {
            async fn consume(&self, id: &TokenDigest, until: SystemTime) -> Result<bool, StoreError> {
                let until = to_ms_ceil(until);
                self.run("consume_onetime", || async move {
                    // One statement: of any number of racing consumers,
                    // exactly one inserts the row.
                    let inserted = sqlx::query(concat!(
                        "INSERT INTO tessera_onetime (digest, keep_until) VALUES ($1, $2) ",
                        "ON CONFLICT (digest) DO NOTHING"
                    ))
                    .bind(&id.as_bytes()[..])
                    .bind(until)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    Ok(inserted == 1)
                })
                .await
            }

            async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
                let now_ms = to_ms(now);
                self.run("purge_onetime", || async move {
                    Ok(
                        sqlx::query("DELETE FROM tessera_onetime WHERE keep_until <= $1")
                            .bind(now_ms)
                            .execute(&self.pool)
                            .await?
                            .rows_affected(),
                    )
                })
                .await
            }
        }

        #[async_trait]
        impl ThrottleStore for $store {
            async fn begin_attempt(
                &self,
                key: &str,
                limits: &AccountLimits,
                now: SystemTime,
            ) -> Result<Attempt, StoreError> {
                let now_ms = to_ms(now);
                let expires = to_ms_ceil(now + limits.lock_window);
                self.run("throttle_attempt", || async move {
                    // SQLite: the write lock first (BEGIN IMMEDIATE);
                    // PostgreSQL: the row, created if absent, locked. Racing
                    // attempts for one key run one after the other, each
                    // seeing the count the previous one committed.
                    let mut tx = self.begin_write().await?;
                    // One statement creates the row if absent and returns
                    // it; on PostgreSQL the no-op update also locks it until
                    // commit, so a concurrent clear cannot slip between.
                    let (count, at, row_expires): (i64, i64, i64) = sqlx::query_as(concat!(
                        "INSERT INTO tessera_throttle (key, count, at, expires) ",
                        "VALUES ($1, 0, $2, $2) ON CONFLICT (key) DO UPDATE SET ",
                        "count = tessera_throttle.count ",
                        "RETURNING count, at, expires"
                    ))
                    .bind(key)
                    .bind(now_ms)
                    .fetch_one(&mut *tx)
                    .await?;
                    // An expired row counts nothing: failures past the
                    // lock window are forgotten.
                    let count = throttle_count(count, row_expires, now_ms)?;
                    let at = from_ms(at).unwrap_or(now);
                    if let Some(refusal) = limits.refusal(count, at, now) {
                        tx.rollback().await?;
                        return Ok(refusal);
                    }
                    // The rule's own forgetting, to the nanosecond (the row's
                    // millisecond expiry can lag it by one).
                    let count = if now.duration_since(at).unwrap_or_default() >= limits.lock_window {
                        0
                    } else {
                        count
                    };
                    let failures = count.saturating_add(1);
                    sqlx::query(
                        "UPDATE tessera_throttle SET count = $2, at = $3, expires = $4 WHERE key = $1",
                    )
                    .bind(key)
                    .bind(i64::from(failures))
                    .bind(now_ms)
                    .bind(expires)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(Attempt::Allowed { failures })
                })
                .await
            }

            async fn clear(&self, key: &str) -> Result<(), StoreError> {
                self.run("throttle_clear", || async move {
                    sqlx::query("DELETE FROM tessera_throttle WHERE key = $1")
                        .bind(key)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
                .await
            }

            async fn failures(
                &self,
                key: &str,
                limits: &AccountLimits,
                now: SystemTime,
            ) -> Result<u32, StoreError> {
                let now_ms = to_ms(now);
                self.run("throttle_failures", || async move {
                    let row: Option<(i64, i64, i64)> = sqlx::query_as(
                        "SELECT count, at, expires FROM tessera_throttle WHERE key = $1",
                    )
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some((count, at, expires)) = row else {
                        return Ok(0);
                    };
                    let count = throttle_count(count, expires, now_ms)?;
                    let at = from_ms(at).unwrap_or(now);
                    let forgotten =
                        now.duration_since(at).unwrap_or_default() >= limits.lock_window;
                    Ok(if forgotten { 0 } else { count })
                })
                .await
            }

            async fn hit(
                &self,
                key: &str,
                limit: &RateLimit,
                now: SystemTime,
            ) -> Result<Hit, StoreError> {
                let now_ms = to_ms(now);
                let window_ends = to_ms_ceil(now + limit.window);
                let allowed = limit.limit;
                self.run("throttle_hit", || async move {
                    // One statement: racing hits each count once. A window
                    // that ended starts over at this hit.
                    let (count, start, expires): (i64, i64, i64) = sqlx::query_as(concat!(
                        "INSERT INTO tessera_throttle (key, count, at, expires) ",
                        "VALUES ($1, 1, $2, $3) ON CONFLICT (key) DO UPDATE SET ",
                        "count = CASE WHEN tessera_throttle.expires <= $2 THEN 1 ",
                        "ELSE tessera_throttle.count + 1 END, ",
                        "at = CASE WHEN tessera_throttle.expires <= $2 THEN $2 ",
                        "ELSE tessera_throttle.at END, ",
                        "expires = CASE WHEN tessera_throttle.expires <= $2 THEN $3 ",
                        "ELSE tessera_throttle.expires END ",
                        "RETURNING count, at, expires"
                    ))
                    .bind(key)
                    .bind(now_ms)
                    .bind(window_ends)
                    .fetch_one(&self.pool)
                    .await?;
                    let count = throttle_count(count, expires, now_ms)?;
                    let retry_after = from_ms(expires)
                        .and_then(|end| end.duration_since(now).ok())
                        .unwrap_or_default();
                    let window_start = from_ms(start).unwrap_or(now);
                    Ok(Hit::new(count <= allowed, count, retry_after, window_start))
                })
                .await
            }

            async fn forgive(
                &self,
                key: &str,
                _limit: &RateLimit,
                window_start: SystemTime,
            ) -> Result<(), StoreError> {
                let start_ms = to_ms(window_start);
                self.run("throttle_forgive", || async move {
                    // Only in the window that counted the event.
                    sqlx::query(concat!(
                        "UPDATE tessera_throttle SET count = count - 1 ",
                        "WHERE key = $1 AND at = $2 AND count > 0"
                    ))
                    .bind(key)
                    .bind(start_ms)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
                .await
            }
        }
    };
}

pub(crate) use impl_store;
