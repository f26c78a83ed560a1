//! Drafts of web ACL rules in PostgreSQL: saved, listed, reopened, edited
//! by their author only, discarded, audited — and carrying what an apply
//! needs.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::audit::{Actor, Client};
use app::changes::Status;
use app::changes::steps;
use app::changes::store::{self, ChangeError};
use app::rules::drafts;
use app::rules::live;
use app::rules::model::{RuleEntry, Statement, rules_json};
use gatehouse::demo;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

fn actor(name: &str) -> Actor {
    Actor {
        sub: Some(format!("sub-{name}")),
        username: Some(name.into()),
    }
}

fn with_blanket_limit(rules: &[RuleEntry], limit: i64) -> Vec<RuleEntry> {
    let mut rules = rules.to_vec();
    for entry in &mut rules {
        if let RuleEntry::Rule(rule) = entry
            && rule.name == "BlanketRule"
            && let Statement::RateBased(rate) = &mut rule.statement
        {
            rate.limit = limit;
        }
    }
    rules
}

#[sqlx::test(migrations = "../migrations")]
async fn a_draft_is_saved_reopened_edited_by_its_author_and_discarded(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let aws = common::aws("eu-central-1").await;
    demo::provision(&aws).await.unwrap();
    let base = live::rules(&aws.wafv2, "REGIONAL", "shop").await.unwrap();
    let nine = with_blanket_limit(&base.rules, 9000);
    let id = drafts::create(
        &pool,
        &base,
        "Raise the blanket limit",
        &nine,
        actor("alice"),
        Client::default(),
    )
    .await
    .unwrap();

    let listed = drafts::list(&pool, "shop", "REGIONAL").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].id.as_str(),
            listed[0].title.as_str(),
            listed[0].author.as_str(),
            listed[0].web_acl_name.as_str()
        ),
        (
            id.to_string().as_str(),
            "Raise the blanket limit",
            "alice",
            "shop"
        )
    );
    let draft = store::get(&pool, id).await.unwrap();
    assert_eq!(draft.status, Status::Draft);
    assert_eq!(
        draft.base.token, base.lock_token,
        "the base LockToken is kept"
    );
    assert_eq!(
        draft.base.content,
        rules_json(&base.rules),
        "and the base rules"
    );
    assert_eq!(draft.content, rules_json(&nine));

    // Only the author edits it.
    let ten = with_blanket_limit(&base.rules, 10_000);
    assert!(matches!(
        drafts::update(&pool, id, "mine now", &ten, actor("bob"), Client::default()).await,
        Err(ChangeError::Refused(why)) if why.contains("alice")
    ));
    drafts::update(
        &pool,
        id,
        "Raise it more",
        &ten,
        actor("alice"),
        Client::default(),
    )
    .await
    .unwrap();
    let draft = store::get(&pool, id).await.unwrap();
    assert_eq!(
        (draft.title.as_str(), draft.content.clone()),
        ("Raise it more", rules_json(&ten))
    );

    // What it carries is what an apply needs: AWS takes it.
    let next = live::update_rules(
        &aws.wafv2,
        &app::changes::kinds::web_acl_rules::rules_of(&draft.base),
        &app::changes::kinds::web_acl_rules::rules(&draft.content),
    )
    .await
    .unwrap()
    .next_lock_token;
    assert_ne!(next, base.lock_token);

    steps::withdraw(&pool, id, actor("alice"), Client::default())
        .await
        .unwrap();
    assert!(
        drafts::list(&pool, "shop", "REGIONAL")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store::get(&pool, id).await.unwrap().status,
        Status::Withdrawn
    );
    assert!(matches!(
        drafts::update(&pool, id, "again", &nine, actor("alice"), Client::default()).await,
        Err(ChangeError::Conflict(_))
    ));
    let actions = common::audit_actions(&pool).await;
    let saved = actions.iter().filter(|a| *a == "rules.draft_saved").count();
    let discarded = actions
        .iter()
        .filter(|a| *a == "rules.draft_discarded")
        .count();
    assert_eq!((saved, discarded), (2, 1), "{actions:?}");
}
