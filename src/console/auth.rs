//! Who may use the console: argon2id passwords, sessions behind an HttpOnly cookie (only a
//! digest is stored), idle and absolute expiry, a CSRF token per session, throttled logins.
//! Nothing here ever logs a password, a cookie or a token.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::{ConsoleError, ConsoleState};
use crate::conversations::now_ms;
use crate::store::{Session, Staff, StaffRole, Store, token_digest};

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
    /// Failed logins per account within `throttle_window` before further tries are refused.
    pub max_failures_per_account: i64,
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

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
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
    Store(crate::store::StoreError),
}

impl From<crate::store::StoreError> for LoginError {
    fn from(e: crate::store::StoreError) -> Self {
        LoginError::Store(e)
    }
}

/// Checks a login; on success, a new session cookie value and the staff member.
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
    if store.login_failures_since(&account_key, since).await? >= policy.max_failures_per_account
        || store.login_failures_since(&address_key, since).await? >= policy.max_failures_per_address
    {
        metrics::counter!("rathaus_console_logins_total", "result" => "throttled").increment(1);
        return Err(LoginError::Throttled);
    }
    let found = store.staff_by_email(email).await?;
    let (hash, staff) = match found {
        Some((staff, hash)) if staff.active => (hash, Some(staff)),
        _ => (dummy_hash().to_string(), None),
    };
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    match staff {
        Some(staff) if ok => {
            store.clear_login_failures(&account_key).await?;
            let cookie = random_token(32);
            store
                .create_session(&token_digest(&cookie), &staff.id, &random_token(32), now)
                .await?;
            metrics::counter!("rathaus_console_logins_total", "result" => "ok").increment(1);
            tracing::info!(staff = %staff.id, "staff login");
            Ok((cookie, staff))
        }
        _ => {
            store.record_login_failure(&account_key, now).await?;
            store.record_login_failure(&address_key, now).await?;
            metrics::counter!("rathaus_console_logins_total", "result" => "failed").increment(1);
            Err(LoginError::Invalid)
        }
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
            Err(e) => return Err(ConsoleError::from(e).into_response()),
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
            Err(ConsoleError::Forbidden.into_response())
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
