//! The AWS call budget: every call Gatehouse makes to an AWS service waits
//! for its turn under a per-service rate, set below the service's API
//! quota, so that however many people use the console, Gatehouse itself
//! never throttles the account (AWS WAF allows one write a second per
//! account and Region for each Create, Put and Update action, and its
//! reads are throttled too). Each call is counted, per service, at the
//! client: the figure the load benchmark prints.
//!
//! It sits in the SDK's HTTP client, so it sees every attempt, retries
//! included; the SDK's adaptive retry mode slows down further when AWS
//! answers with throttling all the same.
//!
//! Sign-in (Cognito) has a pace of its own, apart from the control plane
//! (IAM, Organizations, S3, Athena, Glue): anyone can ask to sign in, and
//! their asking must not use up what signed-in people's pages need. Its
//! queue is bounded too: a call that would wait more than
//! [`SIGN_IN_MOST_WAIT`] is refused at once rather than queued, and a call
//! given up while it waits hands its turn back.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Calls per second each service is allowed, per console process; 0 for
/// no limit (tests against the emulator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rates {
    /// AWS WAF reads (`Get…`, `List…`, `Check…`).
    pub wafv2: f64,
    /// AWS WAF writes (`Create…`, `Update…`, `Put…`, `Delete…`): the
    /// documented quota is 1 a second per account and Region, per action.
    pub wafv2_writes: f64,
    pub dynamodb: f64,
    /// Cognito: sign-in, token refresh and sign-out.
    pub cognito: f64,
    /// IAM, Organizations, S3, Athena, Glue.
    pub other: f64,
}

impl Rates {
    /// No limit on any service.
    pub fn unpaced() -> Self {
        Rates {
            wafv2: 0.0,
            wafv2_writes: 0.0,
            dynamodb: 0.0,
            cognito: 0.0,
            other: 0.0,
        }
    }
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            wafv2: 4.0,
            wafv2_writes: 0.9,
            dynamodb: 20.0,
            cognito: 10.0,
            other: 10.0,
        }
    }
}

/// The longest a sign-in call waits for its turn before it is refused.
pub const SIGN_IN_MOST_WAIT: Duration = Duration::from_secs(3);

/// A rate: calls are spaced `interval` apart on average, with bursts of up
/// to `burst` calls at once after a quiet spell (the generic cell rate
/// algorithm: only the time the next call may go is kept).
struct Pace {
    /// Zero: not paced.
    interval: Duration,
    burst: u32,
    /// A call whose turn is further off than this is refused; `None`: it
    /// waits however long.
    most_wait: Option<Duration>,
    /// Held only to read and move the time, never across an await.
    next: std::sync::Mutex<Option<Instant>>,
}

/// A call refused because its turn was more than its pace's longest wait
/// away.
#[derive(Debug, thiserror::Error)]
#[error(
    "Gatehouse's own budget of {0} calls is used up for the next few seconds; the call was not made"
)]
pub struct BudgetSpent(&'static str);

impl Pace {
    /// `per_second` 0 (or not a positive number): calls are not paced.
    fn new(per_second: f64, most_wait: Option<Duration>) -> Self {
        let paced = per_second.is_finite() && per_second > 0.0;
        Pace {
            interval: match paced {
                true => Duration::from_secs_f64(1.0 / per_second),
                false => Duration::ZERO,
            },
            burst: per_second.ceil().clamp(1.0, 100.0) as u32,
            most_wait,
            next: std::sync::Mutex::new(None),
        }
    }

    /// Waits for this call's turn; `false` when it is further off than the
    /// longest wait (nothing is reserved then). A turn given up while
    /// waiting (the call dropped) is handed back.
    async fn turn(&self) -> bool {
        if self.interval.is_zero() {
            return true;
        }
        let Some(go) = self.reserve() else {
            return false;
        };
        let mut held = Held {
            pace: self,
            kept: false,
        };
        tokio::time::sleep_until(go).await;
        held.kept = true;
        true
    }

    /// The time this call may go, reserved; `None` past the longest wait.
    fn reserve(&self) -> Option<Instant> {
        // The time the next call would go at the steady rate; a call may
        // go up to `burst - 1` intervals before it.
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let due = next.map_or(now, |n| n.max(now));
        let go = due
            .checked_sub(self.interval * (self.burst - 1))
            .map_or(now, |go| go.max(now));
        if self.most_wait.is_some_and(|most| go > now + most) {
            return None;
        }
        *next = Some(due + self.interval);
        Some(go)
    }

    /// Hands a reserved turn back: the calls after it may go sooner.
    fn hand_back(&self) {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(n) = *next {
            *next = n.checked_sub(self.interval);
        }
    }
}

/// A reserved turn; handed back if dropped before the call went.
struct Held<'a> {
    pace: &'a Pace,
    kept: bool,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.pace.hand_back();
        }
    }
}

/// The services counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Wafv2,
    Dynamodb,
    Cognito,
    S3,
    Iam,
    Organizations,
    Athena,
    Glue,
}

impl Service {
    pub const ALL: [Service; 8] = [
        Service::Wafv2,
        Service::Dynamodb,
        Service::Cognito,
        Service::S3,
        Service::Iam,
        Service::Organizations,
        Service::Athena,
        Service::Glue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Wafv2 => "wafv2",
            Service::Dynamodb => "dynamodb",
            Service::Cognito => "cognito-idp",
            Service::S3 => "s3",
            Service::Iam => "iam",
            Service::Organizations => "organizations",
            Service::Athena => "athena",
            Service::Glue => "glue",
        }
    }
}

/// The budget of one console process: a pace per service (two for AWS
/// WAF: reads and writes) and a count of calls per service.
pub struct Budget {
    wafv2: Pace,
    wafv2_writes: Pace,
    dynamodb: Pace,
    cognito: Pace,
    other: Pace,
    calls: [AtomicU64; Service::ALL.len()],
}

impl Budget {
    pub fn new(rates: &Rates) -> Arc<Self> {
        Arc::new(Budget {
            wafv2: Pace::new(rates.wafv2, None),
            wafv2_writes: Pace::new(rates.wafv2_writes, None),
            dynamodb: Pace::new(rates.dynamodb, None),
            cognito: Pace::new(rates.cognito, Some(SIGN_IN_MOST_WAIT)),
            other: Pace::new(rates.other, None),
            calls: Default::default(),
        })
    }

    /// Calls made so far, per service.
    pub fn calls(&self) -> Vec<(&'static str, u64)> {
        Service::ALL
            .iter()
            .map(|s| (s.as_str(), self.calls[*s as usize].load(Ordering::Relaxed)))
            .collect()
    }

    /// The SDK's HTTP client `inner`, with `service`'s calls counted and
    /// paced.
    pub fn client(self: &Arc<Self>, service: Service, inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(Budgeted {
            budget: self.clone(),
            service,
            paced: true,
            inner,
        })
    }

    /// The same, with the calls counted but not paced: for the health
    /// probe, which its own cache holds to one call every few seconds, and
    /// which must not queue behind page reads and time out as if AWS were
    /// down.
    pub fn unpaced_client(
        self: &Arc<Self>,
        service: Service,
        inner: SharedHttpClient,
    ) -> SharedHttpClient {
        SharedHttpClient::new(Budgeted {
            budget: self.clone(),
            service,
            paced: false,
            inner,
        })
    }

    /// Waits for the call's turn and counts it; refuses it when its pace
    /// bounds the wait and the turn is further off.
    async fn turn(
        &self,
        service: Service,
        paced: bool,
        request: &HttpRequest,
    ) -> Result<(), BudgetSpent> {
        let pace = match service {
            Service::Wafv2 if is_write(request) => &self.wafv2_writes,
            Service::Wafv2 => &self.wafv2,
            Service::Dynamodb => &self.dynamodb,
            Service::Cognito => &self.cognito,
            _ => &self.other,
        };
        if paced && !pace.turn().await {
            return Err(BudgetSpent(service.as_str()));
        }
        self.calls[service as usize].fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Whether a JSON-protocol call (AWS WAF's) writes: its action, in the
/// `X-Amz-Target` header, begins with a verb that changes something.
fn is_write(request: &HttpRequest) -> bool {
    let action = request
        .headers()
        .get("x-amz-target")
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or_default();
    [
        "Create",
        "Update",
        "Put",
        "Delete",
        "Associate",
        "Disassociate",
    ]
    .iter()
    .any(|verb| action.starts_with(verb))
}

#[derive(Clone)]
struct Budgeted {
    budget: Arc<Budget>,
    service: Service,
    paced: bool,
    inner: SharedHttpClient,
}

impl std::fmt::Debug for Budgeted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgeted")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl HttpClient for Budgeted {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BudgetedConnector {
            budget: self.budget.clone(),
            service: self.service,
            paced: self.paced,
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct BudgetedConnector {
    budget: Arc<Budget>,
    service: Service,
    paced: bool,
    inner: SharedHttpConnector,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget").finish_non_exhaustive()
    }
}

impl HttpConnector for BudgetedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (budget, service, paced) = (self.budget.clone(), self.service, self.paced);
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            if let Err(spent) = budget.turn(service, paced, &request).await {
                // Not a timeout nor an I/O error: the SDK does not retry it.
                return Err(ConnectorError::other(Box::new(spent), None));
            }
            inner.call(request).await
        })
    }
}

/// Whether AWS's words say the call was throttled.
pub fn throttled(cause: &str) -> bool {
    [
        "Throttling",
        "ThrottledException",
        "TooManyRequests",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceeded",
        "SlowDown",
        "Rate exceeded",
    ]
    .iter()
    .any(|sign| cause.contains(sign))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four a second with a burst of four: eight calls at once, the first
    /// four at once and the next four a quarter of a second apart.
    #[tokio::test(start_paused = true)]
    async fn calls_wait_for_their_turn() {
        let pace = Arc::new(Pace::new(4.0, None));
        tokio::time::sleep(Duration::from_secs(5)).await; // a quiet spell
        let start = Instant::now();
        let mut turns = Vec::new();
        for _ in 0..8 {
            let pace = pace.clone();
            turns.push(tokio::spawn(async move {
                pace.turn().await;
                start.elapsed()
            }));
        }
        let mut waited = Vec::new();
        for turn in turns {
            waited.push(turn.await.unwrap_or_default());
        }
        waited.sort();
        assert_eq!(waited[..4], [Duration::ZERO; 4]);
        assert_eq!(waited[7], Duration::from_secs(1));
        assert_eq!(waited[4], Duration::from_millis(250));
    }

    /// One a second, a wait of at most three seconds: of ten calls at once,
    /// the first four get turns (now, 1 s, 2 s, 3 s) and the rest are
    /// refused at once; a waiting call given up hands its turn back.
    #[tokio::test(start_paused = true)]
    async fn a_bounded_queue_refuses_rather_than_waits_and_gets_turns_back() {
        let pace = Arc::new(Pace::new(1.0, Some(Duration::from_secs(3))));
        let start = Instant::now();
        let mut turns = Vec::new();
        for _ in 0..10 {
            let pace = pace.clone();
            turns.push(tokio::spawn(async move {
                pace.turn().await.then(|| start.elapsed())
            }));
        }
        let mut given = Vec::new();
        for turn in turns {
            given.push(turn.await.unwrap_or_default());
        }
        let went: Vec<Duration> = given.iter().flatten().copied().collect();
        assert_eq!(went.len(), 4, "{given:?}");
        assert_eq!(went.iter().max(), Some(&Duration::from_secs(3)));
        assert_eq!(given.iter().filter(|g| g.is_none()).count(), 6);

        // Now (at 3 s) the queue is free; three calls wait for 4, 5, 6 s;
        // the last is given up, and a new call gets its turn at 6 s rather
        // than being refused or waiting until 7 s.
        let mut waiting = Vec::new();
        for _ in 0..3 {
            let pace = pace.clone();
            waiting.push(tokio::spawn(async move { pace.turn().await }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        if let Some(last) = waiting.pop() {
            last.abort();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let before = Instant::now();
        assert!(pace.turn().await);
        let waited = before.elapsed();
        assert!(waited <= Duration::from_secs(3), "{waited:?}");
        assert!(waited > Duration::from_secs(2), "{waited:?}");
    }

    /// Sign-in has a pace of its own: however many sign-in calls are
    /// refused, the control plane's next call goes at once.
    #[tokio::test(start_paused = true)]
    async fn sign_in_cannot_spend_the_control_planes_budget() {
        let rates = Rates {
            cognito: 1.0,
            other: 1.0,
            ..Rates::unpaced()
        };
        let budget = Budget::new(&rates);
        let request = HttpRequest::empty();
        let mut refused = 0;
        for _ in 0..10 {
            let budget = budget.clone();
            let request = HttpRequest::empty();
            let turn =
                tokio::spawn(
                    async move { budget.turn(Service::Cognito, true, &request).await.is_ok() },
                );
            tokio::task::yield_now().await;
            if turn.is_finished() && !turn.await.unwrap_or(true) {
                refused += 1;
            }
        }
        assert_eq!(refused, 6, "four turns within 3 s, the rest refused");
        let start = Instant::now();
        assert!(budget.turn(Service::S3, true, &request).await.is_ok());
        assert_eq!(start.elapsed(), Duration::ZERO);
        let calls: Vec<_> = budget.calls().into_iter().filter(|(_, n)| *n > 0).collect();
        assert_eq!(
            calls,
            [("cognito-idp", 1), ("s3", 1)],
            "only calls that went are counted: not the refused, not those still waiting"
        );
    }

    #[test]
    fn throttling_is_recognised_in_aws_words() {
        assert!(throttled("ThrottlingException: Rate exceeded"));
        assert!(throttled("service error: TooManyRequestsException"));
        assert!(!throttled("WAFNonexistentItemException"));
    }
}
