//! The cloud admin's named accounts (issue 31): who may sign in, with what
//! role and over which stores; their sessions (a cookie with a CSRF token)
//! and API tokens (bearer, for scripts and BI tools); and the audit of every
//! admin action with the account that took it.

use super::CloudConn;
use crate::error::{CloudError, Result};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use outpost_domain::ids::{new_id, now_millis};
use outpost_domain::secrets::{hash_password, hash_token, new_secret, verify_password};
use serde::Serialize;

/// Wrong passwords in a row before an account is locked, and for how long.
pub const MAX_FAILURES: i32 = 10;
pub const LOCK_MS: i64 = 15 * 60_000;
/// A session lasts a working day.
pub const SESSION_MS: i64 = 12 * 3_600_000;
/// Who the audit names for what was done at the cloud's console (whoever
/// has a shell there; the account acted on is the entry's target).
pub const CONSOLE: &str = "(console)";
/// The shortest password an account may have.
pub const MIN_PASSWORD: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Owner,
    /// Reads its own stores only.
    AreaManager,
    /// Reads everything, retries parked batches and re-sends master data.
    Support,
}

impl Role {
    pub fn parse(s: &str) -> Result<Role> {
        match s {
            "owner" => Ok(Role::Owner),
            "area_manager" | "area-manager" => Ok(Role::AreaManager),
            "support" => Ok(Role::Support),
            _ => Err(CloudError::Unprocessable(format!(
                "role {s:?}: owner, area_manager or support"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::AreaManager => "area_manager",
            Role::Support => "support",
        }
    }
}

/// What an admin action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// Change a store's master data, rotate its credential.
    Write,
    /// Apply a parked batch again.
    Retry,
    /// Send a store its master data again.
    Resend,
}

/// A signed-in (or token-bearing) admin account.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The stores an area manager sees (empty for the others, who see all).
    pub stores: Vec<String>,
}

impl Account {
    /// Whether this account sees `store_id`.
    pub fn sees(&self, store_id: &str) -> bool {
        self.role != Role::AreaManager || self.stores.iter().any(|s| s == store_id)
    }

    /// Whether this account may do what `right` covers.
    pub fn may(&self, right: Right) -> bool {
        matches!(
            (self.role, right),
            (Role::Owner, _) | (Role::Support, Right::Retry | Right::Resend)
        )
    }
}

#[derive(QueryableByName)]
struct AccountRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    role: String,
}

#[derive(QueryableByName)]
struct StoreOf {
    #[diesel(sql_type = Text)]
    store_id: String,
}

fn account(c: &mut CloudConn, row: AccountRow) -> Result<Account> {
    let stores = diesel::sql_query(
        "SELECT store_id FROM admin_account_stores WHERE account_id = $1 ORDER BY store_id",
    )
    .bind::<Text, _>(&row.id)
    .load::<StoreOf>(c)?
    .into_iter()
    .map(|s| s.store_id)
    .collect();
    Ok(Account {
        role: Role::parse(&row.role)?,
        id: row.id,
        name: row.name,
        stores,
    })
}

/// Adds an account (`stores`: an area manager's store ids or codes).
pub fn add_account(
    c: &mut CloudConn,
    name: &str,
    role: Role,
    stores: &[String],
    password: &str,
) -> Result<Account> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(CloudError::Unprocessable(
            "an account's name is 1 to 64 characters".into(),
        ));
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(CloudError::Unprocessable(format!(
            "a password has at least {MIN_PASSWORD} characters"
        )));
    }
    if role == Role::AreaManager && stores.is_empty() {
        return Err(CloudError::Unprocessable(
            "an area manager needs at least one store (--store)".into(),
        ));
    }
    if role != Role::AreaManager && !stores.is_empty() {
        return Err(CloudError::Unprocessable(
            "only an area manager is limited to stores: an owner and support see all".into(),
        ));
    }
    c.transaction(|c| {
        let taken = diesel::sql_query("SELECT id, name, role FROM admin_accounts WHERE name = $1")
            .bind::<Text, _>(name)
            .load::<AccountRow>(c)?;
        if !taken.is_empty() {
            return Err(CloudError::Unprocessable(format!(
                "an account named {name:?} exists"
            )));
        }
        let id = new_id();
        diesel::sql_query(
            "INSERT INTO admin_accounts (id, name, role, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind::<Text, _>(&id)
        .bind::<Text, _>(name)
        .bind::<Text, _>(role.as_str())
        .bind::<Text, _>(hash_password(password))
        .bind::<BigInt, _>(now_millis())
        .execute(c)?;
        for s in stores {
            let found =
                diesel::sql_query("SELECT id AS store_id FROM stores WHERE id = $1 OR code = $1")
                    .bind::<Text, _>(s)
                    .load::<StoreOf>(c)?;
            let Some(store) = found.into_iter().next() else {
                return Err(CloudError::NotFound(format!("store {s}")));
            };
            diesel::sql_query(
                "INSERT INTO admin_account_stores (account_id, store_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind::<Text, _>(&id)
            .bind::<Text, _>(&store.store_id)
            .execute(c)?;
        }
        audit(c, CONSOLE, "cli", "account.add", name, role.as_str())?;
        let row = AccountRow {
            id,
            name: name.to_owned(),
            role: role.as_str().to_owned(),
        };
        account(c, row)
    })
}

/// Why a sign-in was refused (for the audit; the page says the same for
/// both, so it tells no one which names exist or are locked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInRefused {
    Wrong,
    Locked,
}

/// A hash no password matches, made once: a refusal that checks no real
/// hash (an unknown name, a locked account) still spends one check, so its
/// time tells nothing.
static DECOY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&new_secret()));

#[derive(QueryableByName)]
struct Credentials {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    password_hash: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    locked_until: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    disabled_at: Option<i64>,
}

/// Checks a name and password; a wrong password counts towards the lock
/// (atomically: parallel guesses each count), a right one opens a session
/// and returns its token (for the cookie). An account locked refuses even
/// the right password until the lock ends.
pub fn sign_in(
    c: &mut CloudConn,
    name: &str,
    password: &str,
) -> Result<std::result::Result<String, SignInRefused>> {
    let now = now_millis();
    let row = diesel::sql_query(
        "SELECT id, name, password_hash, locked_until, disabled_at FROM admin_accounts WHERE name = $1",
    )
    .bind::<Text, _>(name.trim())
    .load::<Credentials>(c)?
    .into_iter()
    .next();
    let Some(row) = row else {
        let _ = verify_password(password, &DECOY);
        let shown: String = name.chars().take(64).collect();
        audit(
            c,
            &shown,
            "session",
            "sign-in.refused",
            &shown,
            "no such account",
        )?;
        return Ok(Err(SignInRefused::Wrong));
    };
    // A disabled account is answered as a wrong password; a locked one is
    // refused even the right password until the lock ends.
    let refused = if row.disabled_at.is_some() {
        Some(("disabled", SignInRefused::Wrong))
    } else if row.locked_until.is_some_and(|u| u > now) {
        Some(("locked", SignInRefused::Locked))
    } else {
        None
    };
    if let Some((why, answer)) = refused {
        let _ = verify_password(password, &DECOY);
        audit(c, &row.name, "session", "sign-in.refused", &row.name, why)?;
        return Ok(Err(answer));
    }
    if !verify_password(password, &row.password_hash) {
        // One statement: the count and the lock move together.
        diesel::sql_query(
            "UPDATE admin_accounts SET failed = failed + 1, \
             locked_until = CASE WHEN failed + 1 >= $2 THEN $3 ELSE locked_until END \
             WHERE id = $1",
        )
        .bind::<Text, _>(&row.id)
        .bind::<diesel::sql_types::Integer, _>(MAX_FAILURES)
        .bind::<BigInt, _>(now + LOCK_MS)
        .execute(c)?;
        audit(
            c,
            &row.name,
            "session",
            "sign-in.refused",
            &row.name,
            "wrong password",
        )?;
        return Ok(Err(SignInRefused::Wrong));
    }
    let token = new_secret();
    let csrf = new_secret();
    let expires_at = now + SESSION_MS;
    c.transaction(|c| {
        diesel::sql_query(
            "UPDATE admin_accounts SET failed = 0, locked_until = NULL WHERE id = $1",
        )
        .bind::<Text, _>(&row.id)
        .execute(c)?;
        diesel::sql_query("DELETE FROM admin_sessions WHERE expires_at <= $1")
            .bind::<BigInt, _>(now)
            .execute(c)?;
        diesel::sql_query(
            "INSERT INTO admin_sessions (token_sha256, account_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind::<Text, _>(hash_token(&token))
        .bind::<Text, _>(&row.id)
        .bind::<Text, _>(&csrf)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(expires_at)
        .execute(c)?;
        audit(c, &row.name, "session", "sign-in", &row.name, "")
    })?;
    Ok(Ok(token))
}

#[derive(QueryableByName)]
struct SessionRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Text)]
    csrf: String,
}

/// The account of a live session, and the session's CSRF token.
pub fn session(c: &mut CloudConn, token: &str) -> Result<Option<(Account, String)>> {
    let row = diesel::sql_query(
        "SELECT a.id, a.name, a.role, s.csrf FROM admin_sessions s \
         JOIN admin_accounts a ON a.id = s.account_id \
         WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND a.disabled_at IS NULL",
    )
    .bind::<Text, _>(hash_token(token))
    .bind::<BigInt, _>(now_millis())
    .load::<SessionRow>(c)?
    .into_iter()
    .next();
    let Some(r) = row else { return Ok(None) };
    let csrf = r.csrf;
    let a = account(
        c,
        AccountRow {
            id: r.id,
            name: r.name,
            role: r.role,
        },
    )?;
    Ok(Some((a, csrf)))
}

/// Ends a session.
pub fn sign_out(c: &mut CloudConn, token: &str, who: &str) -> Result<()> {
    diesel::sql_query("DELETE FROM admin_sessions WHERE token_sha256 = $1")
        .bind::<Text, _>(hash_token(token))
        .execute(c)?;
    audit(c, who, "session", "sign-out", who, "")
}

/// The account named `name` (404 when there is none).
fn named(c: &mut CloudConn, name: &str) -> Result<AccountRow> {
    diesel::sql_query("SELECT id, name, role FROM admin_accounts WHERE name = $1")
        .bind::<Text, _>(name.trim())
        .load::<AccountRow>(c)?
        .into_iter()
        .next()
        .ok_or_else(|| CloudError::NotFound(format!("admin account {name}")))
}

/// Gives an account a new password: its sessions end and a lock is lifted
/// (its API tokens stay; revoke them on their own).
pub fn set_password(c: &mut CloudConn, name: &str, password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(CloudError::Unprocessable(format!(
            "a password has at least {MIN_PASSWORD} characters"
        )));
    }
    let hash = hash_password(password);
    c.transaction(|c| {
        let row = named(c, name)?;
        diesel::sql_query(
            "UPDATE admin_accounts SET password_hash = $2, failed = 0, locked_until = NULL \
             WHERE id = $1",
        )
        .bind::<Text, _>(&row.id)
        .bind::<Text, _>(&hash)
        .execute(c)?;
        diesel::sql_query("DELETE FROM admin_sessions WHERE account_id = $1")
            .bind::<Text, _>(&row.id)
            .execute(c)?;
        audit(c, CONSOLE, "cli", "account.password", &row.name, "")
    })
}

/// Disables an account (`disabled`), or enables it again. A disabled one
/// cannot sign in (the answer is the one a wrong password gets), its
/// sessions end and its API tokens are refused until it is enabled.
pub fn set_disabled(c: &mut CloudConn, name: &str, disabled: bool) -> Result<()> {
    c.transaction(|c| {
        let row = named(c, name)?;
        diesel::sql_query(
            "UPDATE admin_accounts SET disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, $3) END \
             WHERE id = $1",
        )
        .bind::<Text, _>(&row.id)
        .bind::<diesel::sql_types::Bool, _>(disabled)
        .bind::<BigInt, _>(now_millis())
        .execute(c)?;
        if disabled {
            diesel::sql_query("DELETE FROM admin_sessions WHERE account_id = $1")
                .bind::<Text, _>(&row.id)
                .execute(c)?;
        }
        let action = if disabled {
            "account.disable"
        } else {
            "account.enable"
        };
        audit(c, CONSOLE, "cli", action, &row.name, "")
    })
}

/// Revokes an account's API tokens labelled `label` (every one of them
/// when `None`); returns how many were live.
pub fn revoke_api_tokens(c: &mut CloudConn, name: &str, label: Option<&str>) -> Result<usize> {
    c.transaction(|c| {
        let row = named(c, name)?;
        let n = diesel::sql_query(
            "UPDATE admin_api_tokens SET revoked_at = $2 \
             WHERE account_id = $1 AND revoked_at IS NULL AND ($3::text IS NULL OR label = $3)",
        )
        .bind::<Text, _>(&row.id)
        .bind::<BigInt, _>(now_millis())
        .bind::<Nullable<Text>, _>(label)
        .execute(c)?;
        let detail = format!("{n} token(s) labelled {}", label.unwrap_or("anything"));
        audit(c, CONSOLE, "cli", "api-token.revoke", &row.name, &detail)?;
        Ok(n)
    })
}

/// An account as the console lists it.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct Listed {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub role: String,
    /// An area manager's stores, by code.
    #[diesel(sql_type = Text)]
    pub stores: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub disabled: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub locked: bool,
    /// The labels of its live API tokens.
    #[diesel(sql_type = Text)]
    pub tokens: String,
}

/// Every account, by name.
pub fn list(c: &mut CloudConn) -> Result<Vec<Listed>> {
    Ok(diesel::sql_query(
        "SELECT a.name, a.role, \
           COALESCE((SELECT string_agg(s.code, ',' ORDER BY s.code) FROM admin_account_stores x \
             JOIN stores s ON s.id = x.store_id WHERE x.account_id = a.id), '') AS stores, \
           a.disabled_at IS NOT NULL AS disabled, COALESCE(a.locked_until > $1, false) AS locked, \
           COALESCE((SELECT string_agg(t.label, ',' ORDER BY t.label) FROM admin_api_tokens t \
             WHERE t.account_id = a.id AND t.revoked_at IS NULL), '') AS tokens \
         FROM admin_accounts a ORDER BY a.name",
    )
    .bind::<BigInt, _>(now_millis())
    .load(c)?)
}

/// Makes an API token for the account named `name` and returns it (shown
/// once; only its hash is kept).
pub fn new_api_token(c: &mut CloudConn, name: &str, label: &str) -> Result<String> {
    let row = named(c, name)?;
    let token = new_secret();
    diesel::sql_query(
        "INSERT INTO admin_api_tokens (token_sha256, account_id, label, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind::<Text, _>(hash_token(&token))
    .bind::<Text, _>(&row.id)
    .bind::<Text, _>(label)
    .bind::<BigInt, _>(now_millis())
    .execute(c)?;
    audit(c, CONSOLE, "cli", "api-token.add", name, label)?;
    Ok(token)
}

/// The account an API token belongs to, unless it was revoked.
pub fn by_api_token(c: &mut CloudConn, token: &str) -> Result<Option<Account>> {
    let row = diesel::sql_query(
        "SELECT a.id, a.name, a.role FROM admin_api_tokens t \
         JOIN admin_accounts a ON a.id = t.account_id \
         WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND a.disabled_at IS NULL",
    )
    .bind::<Text, _>(hash_token(token))
    .load::<AccountRow>(c)?
    .into_iter()
    .next();
    row.map(|r| account(c, r)).transpose()
}

/// Records an admin action.
pub fn audit(
    c: &mut CloudConn,
    account: &str,
    via: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<()> {
    diesel::sql_query(
        "INSERT INTO admin_audit (at, account_name, via, action, target, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind::<BigInt, _>(now_millis())
    .bind::<Text, _>(account)
    .bind::<Text, _>(via)
    .bind::<Text, _>(action)
    .bind::<Text, _>(target)
    .bind::<Text, _>(detail)
    .execute(c)?;
    Ok(())
}

/// One line of the audit.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct Audited {
    #[diesel(sql_type = BigInt)]
    pub at: i64,
    #[diesel(sql_type = Text)]
    pub account_name: String,
    #[diesel(sql_type = Text)]
    pub via: String,
    #[diesel(sql_type = Text)]
    pub action: String,
    #[diesel(sql_type = Text)]
    pub target: String,
    #[diesel(sql_type = Text)]
    pub detail: String,
}

/// The latest `limit` audit lines, newest first.
pub fn audit_log(c: &mut CloudConn, limit: i64) -> Result<Vec<Audited>> {
    Ok(diesel::sql_query(
        "SELECT at, account_name, via, action, target, detail FROM admin_audit \
         ORDER BY id DESC LIMIT $1",
    )
    .bind::<BigInt, _>(limit.clamp(1, 1000))
    .load(c)?)
}
