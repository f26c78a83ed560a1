//! Verifying Cognito tokens the way aws-jwt-verify does: the `kid` must be
//! in the pool's JWKS and name an RSA key; the algorithm must be RS256
//! (never `none`, never HMAC); then the signature, `exp` and `nbf` (with a
//! few seconds' grace), `iss`, `token_use`, and the app client (`client_id`
//! in access tokens, `aud` in ID tokens).
//!
//! The JWKS is fetched once and cached; a token with an unknown `kid`
//! triggers at most one refetch per [`REFETCH_INTERVAL`], so forged tokens
//! cannot make the server hammer Cognito.

use super::User;
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{AlgorithmParameters, JwkSet},
};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// Which of Cognito's tokens a caller expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    Access,
    Id,
}

impl TokenUse {
    fn claim(self) -> &'static str {
        match self {
            TokenUse::Access => "access",
            TokenUse::Id => "id",
        }
    }
}

/// Why a token was refused. Logged on the server; callers get a bare 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token has no kid")]
    NoKid,
    #[error("algorithm {0} is not allowed")]
    Algorithm(String),
    #[error("kid {0} is not in the pool's JWKS")]
    UnknownKid(String),
    #[error("the JWKS could not be fetched: {0}")]
    Jwks(String),
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("token_use is {found:?}, expected {expected:?}")]
    WrongUse { found: String, expected: String },
    #[error("issued to another app client")]
    WrongClient,
}

/// Where the pool's keys and identity are.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// `https://cognito-idp.{region}.amazonaws.com/{user_pool_id}`.
    pub issuer: String,
    /// Usually `{issuer}/.well-known/jwks.json`; an emulator serves it at
    /// its own address.
    pub jwks_url: String,
    pub client_id: String,
    /// Seconds of clock skew allowed on `exp`, `nbf` and `iat`.
    pub grace_secs: u64,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    token_use: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(rename = "cognito:username", default)]
    cognito_username: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
}

struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    last_fetch: Option<Instant>,
}

#[derive(Clone)]
pub struct Verifier {
    settings: Arc<PoolSettings>,
    http: reqwest::Client,
    keys: Arc<Mutex<Keys>>,
    /// Serialises fetches so concurrent unknown kids cause one request.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

impl Verifier {
    pub fn new(settings: PoolSettings) -> Self {
        Self {
            settings: Arc::new(settings),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            keys: Arc::new(Mutex::new(Keys {
                by_kid: HashMap::new(),
                last_fetch: None,
            })),
            fetching: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    /// Verifies `token` as a `expected` token of the pool and app client,
    /// and returns the user it names.
    pub async fn verify(&self, token: &str, expected: TokenUse) -> Result<User, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(TokenError::NoKid)?;
        let key = self.key(&kid).await?;

        let settings = &self.settings;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = settings.grace_secs;
        validation.validate_nbf = true;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        match expected {
            // Access tokens carry the client in `client_id`, not `aud`.
            TokenUse::Access => validation.validate_aud = false,
            TokenUse::Id => validation.set_audience(&[&settings.client_id]),
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?
            .claims;
        if claims.token_use != expected.claim() {
            return Err(TokenError::WrongUse {
                found: claims.token_use,
                expected: expected.claim().into(),
            });
        }
        if expected == TokenUse::Access && claims.client_id.as_deref() != Some(&settings.client_id)
        {
            return Err(TokenError::WrongClient);
        }
        let username = claims
            .username
            .or(claims.cognito_username)
            .unwrap_or_else(|| claims.sub.clone());
        // Roles are given by the mapping that applies now: see
        // `caller::with_roles`.
        Ok(User {
            username,
            sub: claims.sub,
            groups: claims.groups,
            roles: Vec::new(),
        })
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let _one_fetch_at_a_time = self.fetching.lock().await;
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let recently = self
            .lock_keys()
            .last_fetch
            .is_some_and(|at| at.elapsed() < REFETCH_INTERVAL);
        if recently {
            return Err(TokenError::UnknownKid(kid.into()));
        }
        let fetched = self.fetch().await;
        let mut keys = self.lock_keys();
        keys.last_fetch = Some(Instant::now());
        keys.by_kid = fetched?;
        keys.by_kid
            .get(kid)
            .cloned()
            .ok_or_else(|| TokenError::UnknownKid(kid.into()))
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        self.lock_keys().by_kid.get(kid).cloned()
    }

    fn lock_keys(&self) -> std::sync::MutexGuard<'_, Keys> {
        // A poisoned lock only means a panic elsewhere mid-update of a plain
        // map; its contents are still a valid cache.
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The pool's RSA keys by `kid`; keys of other types are skipped.
    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, TokenError> {
        let response = self
            .http
            .get(&self.settings.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| TokenError::Jwks(e.to_string()))?;
        let set: JwkSet = response
            .json()
            .await
            .map_err(|e| TokenError::Jwks(e.to_string()))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), AlgorithmParameters::RSA(rsa)) = (&jwk.common.key_id, &jwk.algorithm)
            else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_rsa_components(&rsa.n, &rsa.e) {
                keys.insert(kid.clone(), key);
            }
        }
        tracing::info!(url = %self.settings.jwks_url, keys = keys.len(), "fetched the user pool's JWKS");
        Ok(keys)
    }
}
