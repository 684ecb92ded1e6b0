//! Who may use the console: argon2id passwords, sessions behind an HttpOnly cookie (only a
//! digest is stored), idle and absolute expiry, a CSRF token per session, throttled logins.
//! Nothing here ever logs a password, a cookie or a token.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{ConsoleError, ConsoleState};
use crate::conversations::now_ms;
use crate::store::{Session, Staff, StaffRole, Store, token_digest};
use crate::web::ApiError;

pub const SESSION_COOKIE: &str = "rathaus_session";
pub const LOGIN_COOKIE: &str = "rathaus_login";

/// How long sessions live and how hard logins are throttled.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after login, used or not.
    pub absolute: Duration,
    /// Mark cookies `Secure` (behind TLS). Also set when the proxy says `https`.
    pub secure_cookies: bool,
    /// Login attempts per account within `throttle_window`; beyond them, one attempt per
    /// `account_delay`. An account is slowed, never locked: a stranger guessing its
    /// password cannot keep its owner out for long.
    pub max_failures_per_account: i64,
    pub account_delay: Duration,
    /// Failed logins per client address within `throttle_window`.
    pub max_failures_per_address: i64,
    pub throttle_window: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(10 * 3600),
            secure_cookies: false,
            max_failures_per_account: 5,
            account_delay: Duration::from_secs(60),
            max_failures_per_address: 20,
            throttle_window: Duration::from_secs(15 * 60),
        }
    }
}

/// OWASP's argon2id recommendation: 19 MiB, two passes, one lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("password hash: {e}"))?
        .to_string())
}

/// Checks a password against its stored hash, in `memory` (argon2's working blocks, grown
/// to what the hash's parameters need and kept for the next check).
pub fn verify_password_in(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(hash.algorithm),
        Params::try_from(&hash),
        hash.salt,
        hash.hash,
    ) else {
        return false;
    };
    let version = hash
        .version
        .map_or(Ok(Version::V0x13), Version::try_from)
        .unwrap_or(Version::V0x13);
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_ok()
        && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    verify_password_in(password, hash, &mut Vec::new())
}

/// Password checks, a few at a time: each needs 19 MiB and a core for a tenth of a second,
/// so a burst of logins waits in line instead of taking the memory and the processors.
/// The working memory is allocated once per place in line and reused, so the process's
/// size stays flat however many logins come.
struct PasswordChecks {
    places: tokio::sync::Semaphore,
    memory: std::sync::Mutex<Vec<Vec<Block>>>,
}

/// How long a login waits for its place before the console says it is busy.
const CHECK_WAIT: Duration = Duration::from_secs(10);

fn password_checks() -> &'static PasswordChecks {
    static CHECKS: std::sync::OnceLock<PasswordChecks> = std::sync::OnceLock::new();
    CHECKS.get_or_init(|| {
        let places = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        PasswordChecks {
            places: tokio::sync::Semaphore::new(places),
            memory: std::sync::Mutex::new(Vec::new()),
        }
    })
}

/// Checks a password with the bounded, reused memory; `None` when no place came free in
/// time.
async fn check_password(password: String, hash: String) -> Option<bool> {
    let checks = password_checks();
    let _place = tokio::time::timeout(CHECK_WAIT, checks.places.acquire())
        .await
        .ok()?
        .ok()?;
    let mut memory = checks
        .memory
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default();
    let (ok, memory) = tokio::task::spawn_blocking(move || {
        let ok = verify_password_in(&password, &hash, &mut memory);
        (ok, memory)
    })
    .await
    .ok()?;
    checks
        .memory
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(memory);
    Some(ok)
}

/// A password for `rathaus user add` when none is given: 18 random bytes, URL-safe.
pub fn generate_password() -> String {
    random_token(18)
}

pub fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Compares two secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A hash to verify against when the account does not exist, so that an unknown address
/// takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

#[derive(Debug)]
pub enum LoginError {
    Invalid,
    Throttled,
    /// Too many logins are being checked at this moment.
    Busy,
    Store(crate::store::StoreError),
}

impl From<crate::store::StoreError> for LoginError {
    fn from(e: crate::store::StoreError) -> Self {
        LoginError::Store(e)
    }
}

/// Checks a login; on success, a new session cookie value and the staff member.
///
/// Each attempt is recorded under the account and under the client's address before the
/// password is checked, and counted after: of any number of concurrent attempts, at most
/// the limit get as far as the check. Past the account's limit, one attempt per
/// `account_delay` is checked; an attempt refused unchecked is taken back, so waiting
/// works. A successful login takes back its address's attempt and clears the account's.
pub async fn login(
    store: &dyn Store,
    policy: &SessionPolicy,
    email: &str,
    password: &str,
    address: &str,
) -> Result<(String, Staff), LoginError> {
    let now = now_ms();
    let since = now - policy.throttle_window.as_millis() as i64;
    let account_key = format!("account:{}", email.trim().to_lowercase());
    let address_key = format!("address:{address}");
    let (by_address, at_address) = store.login_attempt(&address_key, now, since).await?;
    let (by_account, at_account) = store.login_attempt(&account_key, now, since).await?;
    let throttled = at_address > policy.max_failures_per_address
        || (at_account > policy.max_failures_per_account
            && store
                .login_attempts_since(&account_key, now - policy.account_delay.as_millis() as i64)
                .await?
                > 1);
    if throttled {
        store.forget_login_attempt(by_address).await?;
        store.forget_login_attempt(by_account).await?;
        metrics::counter!("rathaus_console_logins_total", "result" => "throttled").increment(1);
        return Err(LoginError::Throttled);
    }
    let found = store.staff_by_email(email).await?;
    let (hash, staff) = match found {
        Some((staff, hash)) if staff.active => (hash, Some(staff)),
        _ => (dummy_hash().to_string(), None),
    };
    let Some(ok) = check_password(password.to_string(), hash).await else {
        store.forget_login_attempt(by_address).await?;
        store.forget_login_attempt(by_account).await?;
        metrics::counter!("rathaus_console_logins_total", "result" => "busy").increment(1);
        return Err(LoginError::Busy);
    };
    match staff {
        Some(staff) if ok => {
            store.clear_login_attempts(&account_key).await?;
            store.forget_login_attempt(by_address).await?;
            let cookie = random_token(32);
            store
                .create_session(&token_digest(&cookie), &staff.id, &random_token(32), now)
                .await?;
            metrics::counter!("rathaus_console_logins_total", "result" => "ok").increment(1);
            tracing::info!(staff = %staff.id, "staff login");
            Ok((cookie, staff))
        }
        _ => {
            metrics::counter!("rathaus_console_logins_total", "result" => "failed").increment(1);
            Err(LoginError::Invalid)
        }
    }
}

/// The login form's token: issued and signed by the server (HMAC-SHA-256 with a key kept in
/// the database, so every instance accepts every instance's forms), valid for an hour, and
/// sent both in a cookie and in the form. A token the client made up fails the signature;
/// a token from another browser fails the cookie.
pub struct LoginTokens {
    key: Vec<u8>,
}

/// How long a login form may stay open.
const LOGIN_FORM_LIFE: Duration = Duration::from_secs(3600);

impl LoginTokens {
    /// The tokens signed with the database's login key (made on first use).
    pub async fn load(store: &dyn Store) -> Result<LoginTokens, crate::store::StoreError> {
        let key = store
            .server_key("login_form", &random_token(32), now_ms())
            .await?;
        Ok(LoginTokens {
            key: key.into_bytes(),
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    pub fn issue(&self, now: i64) -> String {
        let body = format!(
            "{}.{}",
            random_token(18),
            now + LOGIN_FORM_LIFE.as_millis() as i64
        );
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let tag =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// Whether `token` is one this server issued and has not expired.
    pub fn valid(&self, token: &str, now: i64) -> bool {
        let Some((body, tag)) = token.rsplit_once('.') else {
            return false;
        };
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        if mac.verify_slice(&tag).is_err() {
            return false;
        }
        body.rsplit_once('.')
            .and_then(|(_, expires)| expires.parse::<i64>().ok())
            .is_some_and(|expires| now < expires)
    }
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request came over TLS (directly or as the reverse proxy says).
pub fn is_secure(policy: &SessionPolicy, headers: &HeaderMap) -> bool {
    policy.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for the console: HttpOnly, SameSite=Strict, Secure behind TLS.
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// A signed-in staff member, checked on every console request.
pub struct SignedIn {
    pub session: Session,
    pub digest: String,
}

impl SignedIn {
    pub fn staff(&self) -> &Staff {
        &self.session.staff
    }

    /// Refuses a state-changing request whose CSRF token is not this session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), ConsoleError> {
        if same_secret(given, &self.session.csrf) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }
}

/// Where an unauthenticated browser goes.
pub struct ToLogin;

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        Redirect::to("/console/login").into_response()
    }
}

impl FromRequestParts<ConsoleState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self, Response> {
        let Some(cookie) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(ToLogin.into_response());
        };
        let digest = token_digest(cookie);
        let store = state.conversations.store();
        let session = match store.session(&digest).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(ToLogin.into_response()),
            Err(e) => return Err(ApiError::from(ConsoleError::from(e)).into_response()),
        };
        let policy = &state.console.policy;
        let now = now_ms();
        if now - session.seen_at > policy.idle.as_millis() as i64
            || now - session.created_at > policy.absolute.as_millis() as i64
        {
            let _ = store.delete_session(&digest).await;
            return Err(ToLogin.into_response());
        }
        // One write a minute is enough to keep an active session alive.
        if now - session.seen_at > 60_000
            && let Err(e) = store.touch_session(&digest, now).await
        {
            tracing::warn!(error = %e, "session not touched");
        }
        Ok(SignedIn { session, digest })
    }
}

/// A signed-in admin; agents get "forbidden".
pub struct Admin(pub SignedIn);

impl FromRequestParts<ConsoleState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self, Response> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if signed_in.staff().role == StaffRole::Admin {
            Ok(Admin(signed_in))
        } else {
            Err(ApiError::from(ConsoleError::Forbidden).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_argon2id_hash() {
        let hash = hash_password("korrekt Pferd Batterie").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("korrekt Pferd Batterie", &hash));
        assert!(!verify_password("korrekt Pferd", &hash));
        assert!(!verify_password("korrekt Pferd Batterie", "not a hash"));
    }

    #[test]
    fn passwords_verify_in_reused_memory() {
        let hash = hash_password("Rathaus 2026").unwrap();
        let mut memory = Vec::new();
        assert!(verify_password_in("Rathaus 2026", &hash, &mut memory));
        let size = memory.len();
        assert_eq!(size, 19 * 1024, "one block per KiB of the parameters");
        assert!(!verify_password_in("Rathaus 2025", &hash, &mut memory));
        assert_eq!(memory.len(), size, "the memory is reused, not grown");
    }

    #[test]
    fn login_tokens_are_the_servers_own_and_expire() {
        let tokens = LoginTokens {
            key: b"a key".to_vec(),
        };
        let token = tokens.issue(1_000);
        assert!(tokens.valid(&token, 2_000));
        assert!(!tokens.valid(&token, 1_000 + LOGIN_FORM_LIFE.as_millis() as i64));
        let other = LoginTokens {
            key: b"another key".to_vec(),
        };
        assert!(!other.valid(&token, 2_000), "signed with another key");
        assert!(!tokens.valid("made.up.token", 2_000));
        let (body, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{}9.{}", body, token.rsplit_once('.').unwrap().1);
        assert!(
            !tokens.valid(&forged, 2_000),
            "a changed expiry breaks the signature"
        );
    }

    #[test]
    fn cookies_are_found_among_others_and_carry_their_attributes() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; rathaus_session=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie_value(&h, "c"), None);
        let c = set_cookie(SESSION_COOKIE, "v", None, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("Secure"));
        assert!(!set_cookie(SESSION_COOKIE, "v", None, false).contains("Secure"));
    }
}
