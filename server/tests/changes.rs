//! Change requests against the emulator and PostgreSQL: the whole path from
//! draft to applied, and each refusal the review is there for: approving
//! one's own change, an approval outliving an edit, a web ACL changed out of
//! band, two applies at once, an audit trail that cannot be written, and a
//! push whose outcome was never recorded.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::audit::{Actor, Client};
use app::changes::apply::{self, Applier, Begun, Outcome};
use app::changes::drift::drift;
use app::changes::kinds::Reach;
use app::changes::kinds::web_acl_rules::{live_of, rules, rules_of};
use app::changes::steps;
use app::changes::store::{self, ChangeError};
use app::changes::{DriftState, Status};
use app::rules::drafts;
use app::rules::live::{self, LiveRules};
use app::rules::model::{RuleEntry, Statement};
use app::targets::{ManagedTarget, TargetKind};
use chrono::TimeDelta;
use gatehouse::demo;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

fn reach<'a>(pool: &'a PgPool, aws: &'a app::state::AwsClients) -> Reach<'a> {
    Reach { pool, aws }
}

fn actor(name: &str) -> Actor {
    Actor {
        sub: Some(format!("sub-{name}")),
        username: Some(name.into()),
    }
}

fn approver(name: &str) -> Applier {
    Applier {
        actor: actor(name),
        client: Client::default(),
        approver: true,
    }
}

fn limit_of(rules: &[RuleEntry], name: &str) -> i64 {
    rules
        .iter()
        .find_map(|entry| match entry {
            RuleEntry::Rule(rule) if rule.name == name => match &rule.statement {
                Statement::RateBased(rate) => Some(rate.limit),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| panic!("no rate rule {name}"))
}

fn with_limit(rules: &[RuleEntry], name: &str, limit: i64) -> Vec<RuleEntry> {
    let mut rules = rules.to_vec();
    for entry in &mut rules {
        if let RuleEntry::Rule(rule) = entry
            && rule.name == name
            && let Statement::RateBased(rate) = &mut rule.statement
        {
            rate.limit = limit;
        }
    }
    rules
}

/// The demo's web ACL in `region`, as it is now (an earlier run against the
/// same emulator may have changed it: the tests only count from it).
async fn shop(region: &str) -> (app::state::AwsClients, LiveRules) {
    let aws = common::aws(region).await;
    demo::provision(&aws).await.unwrap();
    let live = live::rules(&aws.wafv2, "REGIONAL", "shop").await.unwrap();
    (aws, live)
}

async fn live_rules(aws: &app::state::AwsClients) -> LiveRules {
    live::rules(&aws.wafv2, "REGIONAL", "shop").await.unwrap()
}

/// alice drafts `rules` on `base` and submits them for review.
async fn proposed(pool: &PgPool, base: &LiveRules, rules: &[RuleEntry]) -> Uuid {
    let id = drafts::create(
        pool,
        base,
        "Raise the blanket limit",
        rules,
        actor("alice"),
        Client::default(),
    )
    .await
    .unwrap();
    steps::submit(
        pool,
        id,
        &base.lock_token,
        1,
        actor("alice"),
        Client::default(),
    )
    .await
    .unwrap();
    id
}

async fn count(pool: &PgPool, action: &str) -> usize {
    common::audit_actions(pool)
        .await
        .iter()
        .filter(|a| *a == action)
        .count()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_change_is_reviewed_approved_by_another_applied_and_rolled_back(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let (aws, base) = shop("us-west-1").await;
    let before = limit_of(&base.rules, "BlanketRule");
    let raised = with_limit(&base.rules, "BlanketRule", before + 2000);
    let id = proposed(&pool, &base, &raised).await;
    assert_eq!(
        store::get(&pool, id).await.unwrap().status,
        Status::InReview
    );

    steps::comment(
        &pool,
        id,
        "The flood peaked at 6,000.",
        actor("victor"),
        Client::default(),
    )
    .await
    .unwrap();
    // The author cannot approve, though alice's role would allow approving.
    let own = steps::approve(&pool, id, actor("alice"), Client::default()).await;
    assert!(
        matches!(&own, Err(ChangeError::Refused(why)) if why.contains("own change request")),
        "{own:?}"
    );
    assert_eq!(
        count(&pool, "changes.refused").await,
        1,
        "the refusal is audited"
    );
    assert_eq!(
        steps::approve(&pool, id, actor("bob"), Client::default())
            .await
            .unwrap(),
        Status::Approved
    );

    let outcome = apply::apply(reach(&pool, &aws), id, &approver("bob"))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
    let now = live_rules(&aws).await;
    assert_eq!(limit_of(&now.rules, "BlanketRule"), before + 2000);
    let applied = store::get(&pool, id).await.unwrap();
    assert_eq!(applied.status, Status::Applied);
    assert_eq!(
        applied.applied_token.as_deref(),
        Some(now.lock_token.as_str())
    );
    assert_eq!(applied.applied_by.as_deref(), Some("bob"));
    assert!(
        matches!(&outcome, Outcome::Applied { request_id: Some(r) } if Some(r) == applied.aws_request_id.as_ref()),
        "the AWS request id is kept: {outcome:?}"
    );

    let steps: Vec<String> = store::timeline(&pool, id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.what)
        .collect();
    assert_eq!(
        steps,
        [
            "Draft saved",
            "Change request submitted",
            "Comment added",
            "Change request step refused",
            "Change request approved",
            "Apply started",
            "Change applied to AWS"
        ],
    );
    assert!(
        matches!(gatehouse_verify(&pool).await, Ok(n) if n >= 7),
        "the audit chain is intact"
    );

    // Drift: none while AWS holds what was applied.
    let target = ManagedTarget {
        kind: TargetKind::WebAcl,
        scope: Some("REGIONAL".into()),
        name: "shop".into(),
        aws_id: base.web_acl.id.clone(),
        arn: Some(base.web_acl.arn.clone()),
        region: "us-west-1".into(),
        detail: serde_json::json!({}),
    };
    let found = drift(reach(&pool, &aws), std::slice::from_ref(&target))
        .await
        .unwrap();
    assert_eq!(found[0].state, DriftState::InSync);

    // Rollback: a new change request restoring the limit, reviewed anew.
    let back = steps::rollback(
        &pool,
        id,
        &live_of(&now),
        1,
        actor("carol"),
        Client::default(),
    )
    .await
    .unwrap();
    let rollback = store::get(&pool, back).await.unwrap();
    assert_eq!(rollback.status, Status::InReview);
    assert_eq!(rollback.rollback_of, Some(id));
    assert_eq!(limit_of(&rules(&rollback.content), "BlanketRule"), before);
    steps::approve(&pool, back, actor("bob"), Client::default())
        .await
        .unwrap();
    apply::apply(reach(&pool, &aws), back, &approver("bob"))
        .await
        .unwrap();
    let restored = live_rules(&aws).await;
    assert_eq!(limit_of(&restored.rules, "BlanketRule"), before);

    // Changed outside Gatehouse: drift shows what moved.
    let login = limit_of(&restored.rules, "UriBasedRule");
    let elsewhere = with_limit(&restored.rules, "UriBasedRule", login + 1);
    live::update_rules(&aws.wafv2, &restored, &elsewhere)
        .await
        .unwrap();
    let found = drift(reach(&pool, &aws), &[target]).await.unwrap();
    let DriftState::Drifted(diff) = &found[0].state else {
        panic!("{:?}", found[0].state)
    };
    assert_eq!(found[0].last_applied.as_ref().unwrap().id, back.to_string());
    assert_eq!(diff.changes.len(), 1);
    assert!(
        diff.words[0].starts_with("UriBasedRule: Statement.RateBasedStatement.Limit"),
        "{:?}",
        diff.words
    );
}

async fn gatehouse_verify(pool: &PgPool) -> Result<u64, String> {
    app::audit::verify(pool, &[])
        .await
        .unwrap()
        .map_err(|broken| broken.to_string())
}

#[sqlx::test(migrations = "../migrations")]
async fn editing_after_approval_drops_the_approval(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let (aws, base) = shop("us-west-2").await;
    let before = limit_of(&base.rules, "BlanketRule");
    let id = proposed(
        &pool,
        &base,
        &with_limit(&base.rules, "BlanketRule", before + 1000),
    )
    .await;
    steps::approve(&pool, id, actor("bob"), Client::default())
        .await
        .unwrap();
    assert_eq!(
        store::get(&pool, id).await.unwrap().status,
        Status::Approved
    );

    // Someone other than the author cannot edit it.
    let other = drafts::update(
        &pool,
        id,
        "mine",
        &base.rules,
        actor("mallory"),
        Client::default(),
    )
    .await;
    assert!(matches!(other, Err(ChangeError::Refused(_))), "{other:?}");
    drafts::update(
        &pool,
        id,
        "Raise the blanket limit",
        &with_limit(&base.rules, "BlanketRule", before + 50_000),
        actor("alice"),
        Client::default(),
    )
    .await
    .unwrap();
    let edited = store::get(&pool, id).await.unwrap();
    assert_eq!(edited.status, Status::InReview, "back to review");
    let approvals = store::approvals(&pool, &edited).await.unwrap();
    assert_eq!(approvals.len(), 1);
    assert!(!approvals[0].current, "the approval was of other content");
    let refused = apply::apply(reach(&pool, &aws), id, &approver("bob")).await;
    assert!(
        matches!(refused, Err(ChangeError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(
        live_rules(&aws).await.lock_token,
        base.lock_token,
        "nothing was pushed"
    );
    // The same edit of the description drops a fresh approval too.
    steps::approve(&pool, id, actor("bob"), Client::default())
        .await
        .unwrap();
    steps::describe(
        &pool,
        id,
        "For the sale.",
        actor("alice"),
        Client::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        store::get(&pool, id).await.unwrap().status,
        Status::InReview
    );
    // A draft that changes nothing is not submitted.
    let nothing = drafts::create(
        &pool,
        &base,
        "Nothing",
        &base.rules,
        actor("alice"),
        Client::default(),
    )
    .await
    .unwrap();
    let refused = steps::submit(
        &pool,
        nothing,
        &base.lock_token,
        1,
        actor("alice"),
        Client::default(),
    )
    .await;
    assert!(
        matches!(&refused, Err(ChangeError::Invalid(why)) if why.contains("changes nothing")),
        "{refused:?}"
    );

    // Two approvals required: one is not enough.
    let two = drafts::create(
        &pool,
        &base,
        "Needs two",
        &with_limit(&base.rules, "BlanketRule", before + 2),
        actor("alice"),
        Client::default(),
    )
    .await
    .unwrap();
    steps::submit(
        &pool,
        two,
        &base.lock_token,
        2,
        actor("alice"),
        Client::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        steps::approve(&pool, two, actor("bob"), Client::default())
            .await
            .unwrap(),
        Status::InReview
    );
    let waits = |name: &'static str| {
        let pool = pool.clone();
        async move {
            store::waiting_for(&pool, name)
                .await
                .unwrap()
                .iter()
                .any(|row| row.id == two.to_string())
        }
    };
    assert!(waits("carol").await, "it waits for another approver");
    assert!(!waits("bob").await, "not for the one who approved it");
    assert!(!waits("alice").await, "nor for its author");
    let again = steps::approve(&pool, two, actor("bob"), Client::default()).await;
    assert!(
        matches!(again, Err(ChangeError::Conflict(_))),
        "one approval per person: {again:?}"
    );
    assert_eq!(
        steps::approve(&pool, two, actor("carol"), Client::default())
            .await
            .unwrap(),
        Status::Approved
    );

    // Rejected by someone else (not by its author), it cannot be applied.
    let own = steps::reject(&pool, two, "no", actor("alice"), Client::default()).await;
    assert!(matches!(own, Err(ChangeError::Refused(_))), "{own:?}");
    steps::reject(
        &pool,
        two,
        "Wait for the sale to end.",
        actor("dave"),
        Client::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        store::get(&pool, two).await.unwrap().status,
        Status::Rejected
    );
    let late = apply::apply(reach(&pool, &aws), two, &approver("bob")).await;
    assert!(matches!(late, Err(ChangeError::Conflict(_))), "{late:?}");
    assert_eq!(live_rules(&aws).await.lock_token, base.lock_token);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_change_made_out_of_band_makes_it_stale_and_survives_the_rebase(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let (aws, base) = shop("us-east-2").await;
    let blanket = limit_of(&base.rules, "BlanketRule");
    let login = limit_of(&base.rules, "UriBasedRule");
    let id = proposed(
        &pool,
        &base,
        &with_limit(&base.rules, "BlanketRule", blanket + 2000),
    )
    .await;
    steps::approve(&pool, id, actor("bob"), Client::default())
        .await
        .unwrap();

    // Between approval and apply, someone changes the web ACL in AWS.
    let elsewhere = with_limit(&base.rules, "UriBasedRule", login + 7);
    live::update_rules(&aws.wafv2, &base, &elsewhere)
        .await
        .unwrap();
    let outcome = apply::apply(reach(&pool, &aws), id, &approver("bob"))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Stale);
    let now = live_rules(&aws).await;
    assert_eq!(
        limit_of(&now.rules, "UriBasedRule"),
        login + 7,
        "the other change survives"
    );
    assert_eq!(
        limit_of(&now.rules, "BlanketRule"),
        blanket,
        "nothing was overwritten"
    );
    let stale = store::get(&pool, id).await.unwrap();
    assert_eq!(stale.status, Status::Stale);
    assert_eq!(
        stale.stale.as_ref().map(|s| s.token.clone()),
        Some(now.lock_token.clone()),
        "it shows the new live state"
    );

    // Only the author rebases; the rebase needs approval again.
    let theirs = steps::rebase(&pool, id, &live_of(&now), actor("bob"), Client::default()).await;
    assert!(matches!(theirs, Err(ChangeError::Refused(_))), "{theirs:?}");
    let conflicts = steps::rebase(&pool, id, &live_of(&now), actor("alice"), Client::default())
        .await
        .unwrap();
    assert!(conflicts.is_empty(), "{conflicts:?}");
    let rebased = store::get(&pool, id).await.unwrap();
    assert_eq!(rebased.status, Status::InReview);
    assert_eq!(
        limit_of(&rules(&rebased.content), "UriBasedRule"),
        login + 7
    );
    assert_eq!(
        limit_of(&rules(&rebased.content), "BlanketRule"),
        blanket + 2000
    );
    steps::approve(&pool, id, actor("bob"), Client::default())
        .await
        .unwrap();
    apply::apply(reach(&pool, &aws), id, &approver("bob"))
        .await
        .unwrap();
    let after = live_rules(&aws).await;
    assert_eq!(
        (
            limit_of(&after.rules, "UriBasedRule"),
            limit_of(&after.rules, "BlanketRule")
        ),
        (login + 7, blanket + 2000)
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn two_applies_at_once_push_once(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let (aws, base) = shop("eu-west-2").await;
    let before = limit_of(&base.rules, "BlanketRule");
    let id = proposed(
        &pool,
        &base,
        &with_limit(&base.rules, "BlanketRule", before + 500),
    )
    .await;
    steps::approve(&pool, id, actor("bob"), Client::default())
        .await
        .unwrap();
    let (bob, carol) = (approver("bob"), approver("carol"));
    let (first, second) = tokio::join!(
        apply::apply(reach(&pool, &aws), id, &bob),
        apply::apply(reach(&pool, &aws), id, &carol)
    );
    let outcomes = [first, second];
    let applied = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Outcome::Applied { .. })))
        .count();
    assert_eq!(applied, 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            Ok(Outcome::Applied { .. } | Outcome::AlreadyApplied) | Err(ChangeError::Conflict(_))
        )),
        "{outcomes:?}"
    );
    // And again later: nothing more is pushed.
    assert_eq!(
        apply::apply(reach(&pool, &aws), id, &bob).await.unwrap(),
        Outcome::AlreadyApplied
    );
    assert_eq!(count(&pool, "changes.apply_started").await, 1, "one push");
    assert_eq!(count(&pool, "changes.applied").await, 1);
    assert_eq!(
        limit_of(&live_rules(&aws).await.rules, "BlanketRule"),
        before + 500
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn nothing_is_pushed_when_the_audit_trail_cannot_be_written(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let (aws, base) = shop("ap-southeast-1").await;
    let before = limit_of(&base.rules, "BlanketRule");
    let id = proposed(
        &pool,
        &base,
        &with_limit(&base.rules, "BlanketRule", before + 300),
    )
    .await;
    steps::approve(&pool, id, actor("bob"), Client::default())
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_apply_events() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.action = 'changes.apply_started' THEN
                 RAISE EXCEPTION 'the audit trail is out of space';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_apply_events BEFORE INSERT ON audit_events
             FOR EACH ROW EXECUTE FUNCTION refuse_apply_events();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let refused = apply::apply(reach(&pool, &aws), id, &approver("bob")).await;
    assert!(matches!(refused, Err(ChangeError::Audit(_))), "{refused:?}");
    let now = live_rules(&aws).await;
    assert_eq!(now.lock_token, base.lock_token, "AWS is unchanged");
    assert_eq!(limit_of(&now.rules, "BlanketRule"), before);
    assert_eq!(
        store::get(&pool, id).await.unwrap().status,
        Status::Approved
    );

    sqlx::raw_sql("DROP TRIGGER refuse_apply_events ON audit_events")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        apply::apply(reach(&pool, &aws), id, &approver("bob")).await,
        Ok(Outcome::Applied { .. })
    ));
}

/// An approved change raising the blanket limit to `limit`, claimed and
/// pushed to AWS, its outcome never recorded: what a crash between the two
/// leaves.
async fn pushed_but_not_recorded(
    pool: &PgPool,
    aws: &app::state::AwsClients,
    base: &LiveRules,
    limit: i64,
) -> Uuid {
    let id = proposed(pool, base, &with_limit(&base.rules, "BlanketRule", limit)).await;
    steps::approve(pool, id, actor("bob"), Client::default())
        .await
        .unwrap();
    let Begun::Push(change) = apply::begin(reach(pool, aws), id, &approver("bob"))
        .await
        .unwrap()
    else {
        panic!("not claimed")
    };
    live::update_rules(&aws.wafv2, &rules_of(&change.base), &rules(&change.content))
        .await
        .unwrap();
    id
}

#[sqlx::test(migrations = "../migrations")]
async fn an_apply_interrupted_before_or_after_the_push_is_settled(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let (aws, base) = shop("ap-southeast-2").await;
    let before = limit_of(&base.rules, "BlanketRule");
    // Crash after the push, before its outcome was recorded.
    let id = pushed_but_not_recorded(&pool, &aws, &base, before + 100).await;
    assert_eq!(
        store::get(&pool, id).await.unwrap().status,
        Status::Applying
    );
    // Someone presses Apply meanwhile: under way, nothing pushed twice.
    assert!(matches!(
        apply::apply(reach(&pool, &aws), id, &approver("carol")).await,
        Err(ChangeError::Conflict(_))
    ));
    // At start-up:
    let settled = apply::settle_interrupted(reach(&pool, &aws), TimeDelta::zero())
        .await
        .unwrap();
    assert_eq!(settled.len(), 1);
    assert!(
        matches!(settled[0].1, Ok(Outcome::Applied { .. })),
        "{settled:?}"
    );
    let now = live_rules(&aws).await;
    let applied = store::get(&pool, id).await.unwrap();
    assert_eq!(applied.status, Status::Applied);
    assert_eq!(
        applied.applied_token.as_deref(),
        Some(now.lock_token.as_str())
    );

    // Crash after the claim, before the push.
    let next = proposed(
        &pool,
        &now,
        &with_limit(&now.rules, "BlanketRule", before + 200),
    )
    .await;
    steps::approve(&pool, next, actor("bob"), Client::default())
        .await
        .unwrap();
    assert!(matches!(
        apply::begin(reach(&pool, &aws), next, &approver("bob"))
            .await
            .unwrap(),
        Begun::Push(_)
    ));
    let settled = apply::settle_interrupted(reach(&pool, &aws), TimeDelta::zero())
        .await
        .unwrap();
    assert_eq!(settled[0].1, Ok(Outcome::NotTaken));
    assert_eq!(
        store::get(&pool, next).await.unwrap().status,
        Status::Approved
    );
    assert_eq!(live_rules(&aws).await.lock_token, now.lock_token);
    assert!(matches!(
        apply::apply(reach(&pool, &aws), next, &approver("bob")).await,
        Ok(Outcome::Applied { .. })
    ));
    assert_eq!(
        limit_of(&live_rules(&aws).await.rules, "BlanketRule"),
        before + 200
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_apply_cut_off_is_settled_when_the_console_starts(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let region = "ap-northeast-3";
    let (aws, base) = shop(region).await;
    let before = limit_of(&base.rules, "BlanketRule");
    let id = pushed_but_not_recorded(&pool, &aws, &base, before + 40).await;
    // The console went down here. It starts again:
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut console = common::gatehouse()
        .arg("serve")
        .env("DATABASE_URL", common::database_url(&pool))
        .env("LEPTOS_SITE_ADDR", addr.to_string())
        .env("LEPTOS_SITE_ROOT", "../public")
        .env("AWS_REGION", region)
        .spawn()
        .unwrap();
    let mut status = Status::Applying;
    for _ in 0..100 {
        status = store::get(&pool, id).await.unwrap().status;
        if status != Status::Applying {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    console.kill().unwrap();
    console.wait().unwrap();
    assert_eq!(status, Status::Applied);
    let applied = store::get(&pool, id).await.unwrap();
    assert_eq!(
        applied.applied_token,
        Some(live_rules(&aws).await.lock_token),
        "settled from the web ACL as AWS holds it"
    );
    assert_eq!(count(&pool, "changes.applied").await, 1);
}
