//! The authorizer's policy table on an account Gatehouse did not set up: a
//! table made with the SDK holding one policy as a map (with an attribute
//! of the team's own) and one as a JSON string; a draft changing several
//! groups, reviewed, approved by someone else and written in one
//! transaction; a group changed out of band between approval and apply
//! making the request stale with nothing overwritten; the API and its
//! authorization.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::changes::kinds::Reach;
use app::changes::{DriftState, Kind, Status, store};
use app::pages::SaveMapping;
use app::policies::table;
use app::roles::Role;
use app::state::{AppState, AwsClients};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Body;
use common::{draft_of, form, step};
use http::{Request, StatusCode, header};
use leptos::server_fn::ServerFn;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const TABLE: &str = "team-authorizer";

fn policy(resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource}]})
}

/// The table as the team's account has it, registered by the operator.
async fn team_table(pool: &PgPool, aws: &AwsClients) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    aws.dynamodb
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("group")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("group")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let vets = policy("arn:aws:execute-api:*:*:*/*/GET/pets");
    aws.dynamodb
        .put_item()
        .table_name(TABLE)
        .item("group", AttributeValue::S("vets".into()))
        .item("policy", table::map_of(&vets))
        .item("owner", AttributeValue::S("team-a".into()))
        .send()
        .await
        .unwrap();
    for (group, resource) in [
        ("owners", "arn:aws:execute-api:*:*:*/*/GET/status"),
        ("others", "arn:aws:execute-api:*:*:*/*/GET/other"),
    ] {
        aws.dynamodb
            .put_item()
            .table_name(TABLE)
            .item("group", AttributeValue::S(group.into()))
            .item("policy", AttributeValue::S(policy(resource).to_string()))
            .send()
            .await
            .unwrap();
    }
    let checked = app::settings::check::policy_table(aws, TABLE)
        .await
        .unwrap();
    app::settings::store::operator_change(
        pool,
        gatehouse::demo::operator("test"),
        "policy table",
        |doc| doc.targets.push(checked),
    )
    .await
    .unwrap();
}

async fn item(
    aws: &AwsClients,
    group: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    aws.dynamodb
        .get_item()
        .table_name(TABLE)
        .key("group", AttributeValue::S(group.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

fn save_body(group: &str, policy: &Value) -> String {
    let encode = app::url::encode;
    format!(
        "table={}&group={}&policy={}",
        encode(TABLE),
        encode(group),
        encode(&policy.to_string())
    )
}

/// The team's table registered, and the server with an editor's and an
/// approver's sessions.
struct Team {
    pool: PgPool,
    aws: AwsClients,
    state: AppState,
    editor: String,
    approver: String,
}

async fn team(options: PgConnectOptions, region: &str) -> Team {
    let pool = common::pool(options).await;
    let aws = common::aws(region).await;
    team_table(&pool, &aws).await;
    let state = common::state(pool.clone(), aws.clone()).await;
    let editor = common::session_cookie(&state, Role::Editor).await;
    let approver = common::session_cookie(&state, Role::Approver).await;
    Team {
        pool,
        aws,
        state,
        editor,
        approver,
    }
}

/// `editor`'s draft: vets widened, interns added, owners unmapped.
async fn three_group_draft(state: &AppState, editor: &str) -> String {
    let save = <SaveMapping as ServerFn>::PATH;
    let widened = policy("arn:aws:execute-api:*:*:*/*/*/pets");
    let id = draft_of(&form(state, save, editor, &save_body("vets", &widened)).await);
    let interns = policy("arn:aws:execute-api:*:*:*/*/GET/pets/*");
    let same = draft_of(&form(state, save, editor, &save_body("interns", &interns)).await);
    assert_eq!(id, same, "one draft gathers an editor's edits");
    let delete = <app::pages::DeleteMapping as ServerFn>::PATH;
    let body = format!("table={TABLE}&group=owners");
    assert_eq!(draft_of(&form(state, delete, editor, &body).await), id);
    id
}

#[sqlx::test(migrations = "../migrations")]
async fn a_draft_changing_three_groups_is_reviewed_and_lands_in_one_transaction(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let Team {
        pool,
        aws,
        state,
        editor,
        approver,
    } = team(options, "eu-south-2").await;
    let viewer = common::session_cookie(&state, Role::Viewer).await;
    let save = <SaveMapping as ServerFn>::PATH;

    // Refusals: not JSON, a viewer, a table Gatehouse does not manage.
    let broken = form(
        &state,
        save,
        &editor,
        &format!("table={TABLE}&group=vets&policy=%7Bnope"),
    )
    .await;
    assert!(
        broken.body.contains("The policy is not JSON"),
        "{}",
        broken.body
    );
    let huge = policy(&format!(
        "arn:aws:execute-api:*:*:*/*/GET/{}",
        "a".repeat(120 * 1024)
    ));
    let oversized = form(&state, save, &editor, &save_body("vets", &huge)).await;
    assert!(
        oversized.body.contains("keep it under 100 KB"),
        "{}",
        oversized.body
    );
    let viewing = form(&state, save, &viewer, &save_body("vets", &policy("*"))).await;
    assert!(viewing.body.contains("Forbidden"), "{}", viewing.body);
    let elsewhere = form(
        &state,
        save,
        &editor,
        "table=other&group=vets&policy=%7B%7D",
    )
    .await;
    assert!(
        elsewhere.body.contains("does not manage a policy table"),
        "{}",
        elsewhere.body
    );

    let id = three_group_draft(&state, &editor).await;
    let change = store::get(&pool, id.parse().unwrap()).await.unwrap();
    assert_eq!(change.kind, Kind::PolicyMappings);
    let view = app::changes::view::view(&pool, change).await.unwrap();
    let words = view.diff.words.join(" | ");
    assert!(words.contains("group vets: "), "{words}");
    assert!(
        words.contains("group interns is mapped: Allows GET under /pets/"),
        "{words}"
    );
    assert!(words.contains("group owners is unmapped"), "{words}");

    let submitted = step(&state, &editor, &id, "Submit").await;
    assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.body);
    let own = step(&state, &editor, &id, "Approve").await;
    assert_ne!(own.status, StatusCode::OK, "no one approves their own");
    let approved = step(&state, &approver, &id, "Approve").await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    // Out of band after approval, a group the change does not touch: it
    // does not stop the apply (each write is conditioned on its own item).
    aws.dynamodb
        .put_item()
        .table_name(TABLE)
        .item("group", AttributeValue::S("others".into()))
        .item("policy", AttributeValue::S(policy("*").to_string()))
        .send()
        .await
        .unwrap();

    let applied = step(&state, &approver, &id, "Apply").await;
    assert!(
        applied.body.contains("DynamoDB holds the new mappings"),
        "{}",
        applied.body
    );
    let again = step(&state, &approver, &id, "Apply").await;
    assert!(
        again.body.contains("already been applied"),
        "{}",
        again.body
    );

    // Each group in its form; the team's own attribute kept.
    let vets = item(&aws, "vets").await.unwrap();
    assert!(vets["policy"].as_m().is_ok(), "a map stays a map");
    assert_eq!(
        table::document(&vets["policy"])["Statement"][0]["Resource"],
        "arn:aws:execute-api:*:*:*/*/*/pets"
    );
    assert_eq!(vets["owner"].as_s().unwrap(), "team-a");
    let interns = item(&aws, "interns").await.unwrap();
    assert!(interns["policy"].as_m().is_ok(), "a new group is a map");
    assert!(item(&aws, "owners").await.is_none());
    let others = item(&aws, "others").await.unwrap();
    assert_eq!(others["policy"].as_s().unwrap(), &policy("*").to_string());

    let applied = store::get(&pool, id.parse().unwrap()).await.unwrap();
    assert_eq!(applied.status, Status::Applied);

    // Drift: in sync, then an out-of-band change shows.
    let reach = Reach {
        pool: &pool,
        aws: &aws,
    };
    let targets = app::settings::store::current(&pool).await.unwrap().targets;
    let of_table = |all: Vec<app::changes::Drift>| {
        all.into_iter()
            .find(|d| d.kind == Kind::PolicyMappings)
            .unwrap()
            .state
    };
    // "others" was changed out of band after the approval: drift from what
    // Gatehouse applied, though the apply went through.
    let DriftState::Drifted(diff) =
        of_table(app::changes::drift::drift(reach, &targets).await.unwrap())
    else {
        panic!("the out-of-band change to others is drift");
    };
    assert_eq!(diff.changes.len(), 1, "{:?}", diff.words);
    assert!(
        diff.words[0].starts_with("group others: "),
        "{:?}",
        diff.words
    );
    aws.dynamodb
        .put_item()
        .table_name(TABLE)
        .item("group", AttributeValue::S("rogue".into()))
        .item("policy", table::map_of(&policy("*")))
        .send()
        .await
        .unwrap();

    // The API: the live mappings, and a simulation against them.
    let listed = common::get_as(&state, &format!("/api/v1/policies?table={TABLE}"), &viewer).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let listed: Value = serde_json::from_str(&listed.body).unwrap();
    let groups: Vec<&str> = listed["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["interns", "others", "rogue", "vets"]);
    assert_eq!(listed["mappings"][1]["stored"], "string");
    assert_eq!(
        listed["mappings"][3]["summary"],
        "Allows every method /pets"
    );

    let simulate = |cookie: &str, body: Value, same_origin: bool| {
        let mut request = Request::post("/api/v1/policies/simulate")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, cookie);
        if same_origin {
            request = request.header("sec-fetch-site", "same-origin");
        }
        let request = request.body(Body::from(body.to_string())).unwrap();
        let state = state.clone();
        async move { common::send(&state, request).await }
    };
    let asked = json!({"groups": ["interns", "vets"], "method": "DELETE", "path": "/pets"});
    let answer = simulate(&viewer, asked.clone(), true).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(answer["decision"], "Allow");
    assert_eq!(answer["statement"]["policy"], "vets");
    assert_eq!(
        answer["resource"],
        "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/DELETE/pets"
    );
    assert_eq!(
        answer["authorizer_output"]["policyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "the union of both groups' statements"
    );
    let nobody = simulate(&viewer, json!({"groups": ["strangers"]}), true).await;
    let nobody: Value = serde_json::from_str(&nobody.body).unwrap();
    assert_eq!(nobody["decision"], "ImplicitDeny");
    let cross_site = simulate(&viewer, asked.clone(), false).await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let unknown = simulate(&viewer, json!({"groups": [], "colour": "red"}), true).await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.body
    );
    let anonymous = simulate("", asked, true).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    assert!(matches!(app::audit::verify(&pool, &[]).await.unwrap(), Ok(n) if n > 5));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_group_changed_between_approval_and_apply_makes_the_request_stale_and_survives(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let Team {
        pool,
        aws,
        state,
        editor,
        approver,
    } = team(options, "ap-southeast-4").await;

    let id = three_group_draft(&state, &editor).await;
    for (who, what) in [(&editor, "Submit"), (&approver, "Approve")] {
        let reply = step(&state, who, &id, what).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    // Someone edits vets in the AWS console meanwhile.
    let theirs = policy("arn:aws:execute-api:*:*:*/*/POST/pets");
    aws.dynamodb
        .update_item()
        .table_name(TABLE)
        .key("group", AttributeValue::S("vets".into()))
        .update_expression("SET #p = :p")
        .expression_attribute_names("#p", "policy")
        .expression_attribute_values(":p", table::map_of(&theirs))
        .send()
        .await
        .unwrap();
    let applied = step(&state, &approver, &id, "Apply").await;
    assert!(applied.body.contains("Not applied"), "{}", applied.body);
    let stale = store::get(&pool, id.parse().unwrap()).await.unwrap();
    assert_eq!(stale.status, Status::Stale);

    // Nothing of the transaction was written: theirs stands, interns was
    // not added, owners not removed.
    let vets = item(&aws, "vets").await.unwrap();
    assert_eq!(table::document(&vets["policy"]), theirs);
    assert!(item(&aws, "interns").await.is_none());
    assert!(item(&aws, "owners").await.is_some());

    // Rebased onto the live mappings, it goes through again.
    let rebased = step(&state, &editor, &id, "Rebase").await;
    assert_eq!(rebased.status, StatusCode::OK, "{}", rebased.body);
    for (who, what) in [(&approver, "Approve"), (&approver, "Apply")] {
        let reply = step(&state, who, &id, what).await;
        assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
    }
    assert_eq!(
        store::get(&pool, id.parse().unwrap()).await.unwrap().status,
        Status::Applied
    );
    assert!(item(&aws, "interns").await.is_some());

    // Rolled back: a new change request restoring the table before it.
    let rollback = step(&state, &editor, &id, "Rollback").await;
    assert_eq!(rollback.status, StatusCode::OK, "{}", rollback.body);
    let rollback: Value = serde_json::from_str(&rollback.body).unwrap();
    let back = rollback["opened"].as_str().unwrap().to_owned();
    for what in ["Approve", "Apply"] {
        let reply = step(&state, &approver, &back, what).await;
        assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
    }
    assert!(item(&aws, "interns").await.is_none());
    assert!(item(&aws, "owners").await.is_some());
    let vets = item(&aws, "vets").await.unwrap();
    assert_eq!(table::document(&vets["policy"]), theirs);
    assert!(app::audit::verify(&pool, &[]).await.unwrap().is_ok());
}

#[sqlx::test(migrations = "../migrations")]
async fn an_apply_interrupted_after_or_before_its_write_is_settled_from_the_table(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    use app::changes::apply::{self, Applier, Begun, Outcome};
    let Team {
        pool,
        aws,
        state,
        editor,
        approver,
    } = team(options, "ap-southeast-5").await;
    let reach = Reach {
        pool: &pool,
        aws: &aws,
    };
    let by = Applier {
        actor: gatehouse::demo::operator("test"),
        client: app::audit::Client::default(),
        approver: true,
    };
    let id = three_group_draft(&state, &editor).await;
    for (who, what) in [(&editor, "Submit"), (&approver, "Approve")] {
        let reply = step(&state, who, &id, what).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let uuid = id.parse().unwrap();

    // Claimed, never written (the process died before the push).
    let Begun::Push(_) = apply::begin(reach, uuid, &by).await.unwrap() else {
        panic!("claimed");
    };
    let settled = apply::settle_interrupted(reach, chrono::TimeDelta::zero())
        .await
        .unwrap();
    assert_eq!(settled, vec![(uuid, Ok(Outcome::NotTaken))]);
    assert_eq!(
        store::get(&pool, uuid).await.unwrap().status,
        Status::Approved
    );

    // Claimed and written, the answer lost; meanwhile a group it does not
    // touch changed: still settled as applied.
    let Begun::Push(change) = apply::begin(reach, uuid, &by).await.unwrap() else {
        panic!("claimed again");
    };
    Kind::PolicyMappings
        .push(reach, &change.base, &change.content)
        .await
        .unwrap();
    aws.dynamodb
        .put_item()
        .table_name(TABLE)
        .item("group", AttributeValue::S("others".into()))
        .item("policy", AttributeValue::S(policy("*").to_string()))
        .send()
        .await
        .unwrap();
    let settled = apply::settle_interrupted(reach, chrono::TimeDelta::zero())
        .await
        .unwrap();
    assert_eq!(
        settled,
        vec![(uuid, Ok(Outcome::Applied { request_id: None }))]
    );
    assert_eq!(
        store::get(&pool, uuid).await.unwrap().status,
        Status::Applied
    );
    assert!(item(&aws, "interns").await.is_some());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_policy_with_errors_is_not_submitted(_: PgPoolOptions, options: PgConnectOptions) {
    let Team {
        pool,
        state,
        editor,
        ..
    } = team(options, "mx-central-1").await;
    let save = <SaveMapping as ServerFn>::PATH;
    let bad = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "execute-api:Invoke", "Resource": "*"}]});
    let id = draft_of(&form(&state, save, &editor, &save_body("vets", &bad)).await);
    let submitted = step(&state, &editor, &id, "Submit").await;
    assert!(
        submitted.body.contains("INVALID_EFFECT"),
        "{}",
        submitted.body
    );
    let draft = store::get(&pool, id.parse().unwrap()).await.unwrap();
    assert_eq!(draft.status, Status::Draft, "it stays a draft");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_simulator_takes_a_pasted_token_s_groups_once_its_signature_checks_out(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let aws = common::aws("ca-west-1").await;
    let resources = gatehouse::demo::provision(&aws).await.unwrap();
    gatehouse::demo::register(&pool, &aws, &resources)
        .await
        .unwrap();
    let state = common::state(pool.clone(), aws.clone()).await;
    let (_, signed_in) = common::demo_sign_in(&aws, &resources, "approver").await;
    let token = signed_in.access_token().unwrap().to_owned();
    let viewer = common::session_cookie(&state, Role::Viewer).await;
    let path = <app::pages::TokenGroups as ServerFn>::PATH;
    let body = format!("token={}", app::url::encode(&token));
    let groups = form(&state, path, &viewer, &body).await;
    assert_eq!(groups.status, StatusCode::OK, "{}", groups.body);
    let groups: Vec<String> = serde_json::from_str(&groups.body).unwrap();
    assert_eq!(groups, ["gatehouse-approvers"]);

    // The same token with its signature's last characters changed.
    let forged = format!("{}AAAA", &token[..token.len() - 4]);
    let refused = form(
        &state,
        path,
        &viewer,
        &format!("token={}", app::url::encode(&forged)),
    )
    .await;
    assert!(
        refused.body.contains("That token was refused"),
        "{}",
        refused.body
    );
    assert!(
        !refused.body.contains(&forged[..20]),
        "the token is not echoed"
    );
    let anonymous = form(&state, path, "", &body).await;
    assert_ne!(anonymous.status, StatusCode::OK);

    // The demo's table: the veterinarian's policy from an office network.
    let (mappings, _) = app::policies::live::read(
        Reach {
            pool: &pool,
            aws: &aws,
        },
        "auth-policy-store",
    )
    .await
    .unwrap();
    assert_eq!(
        mappings.groups(),
        ["pet-owner", "pet-veterinarian", "petstore-admin"]
    );
    assert_eq!(
        mappings.get("pet-owner").unwrap().stored,
        app::policies::mapping::Stored::String
    );
}

/// `gatehouse policy …` in the region the test's table is in.
fn cli(pool: &PgPool, region: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    use std::io::Write;
    let mut child = common::gatehouse()
        .args(args)
        .env("DATABASE_URL", common::database_url(pool))
        .env("AWS_REGION", region)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn the_command_line_shows_validates_and_simulates_against_the_live_table(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let region = "eu-central-2";
    let Team { pool, .. } = team(options, region).await;

    let (ok, out) = cli(&pool, region, &["policy", "show", "--group", "vets"], None);
    assert!(ok, "{out}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["table"], TABLE);
    assert_eq!(shown["mappings"][0]["stored"], "map");
    assert_eq!(shown["mappings"][0]["summary"], "Allows GET /pets");
    let (ok, _) = cli(
        &pool,
        region,
        &["policy", "show", "--group", "nobody"],
        None,
    );
    assert!(!ok, "an unmapped group is an error");

    let simulate = |group: &str, method: &str| {
        let args = [
            "policy",
            "simulate",
            "--group",
            group,
            "--method",
            method,
            "--path",
            "/pets",
            "--source-ip",
            "192.0.2.1",
            "--context",
            "aws:SourceVpce=vpce-1",
        ];
        let (ok, out) = cli(&pool, region, &args, None);
        assert!(ok, "{out}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let allowed = simulate("vets", "GET");
    assert_eq!(allowed["decision"], "Allow");
    assert_eq!(allowed["statement"]["policy"], "vets");
    assert_eq!(simulate("vets", "POST")["decision"], "ImplicitDeny");
    assert_eq!(simulate("owners", "GET")["decision"], "ImplicitDeny");

    let bad = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "execute-api:Invoke", "Resource": "*"}]});
    let (ok, out) = cli(
        &pool,
        region,
        &["policy", "validate", "-"],
        Some(&bad.to_string()),
    );
    assert!(!ok, "an error finding fails the command");
    let found: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(found[0]["code"], "INVALID_EFFECT");
    assert_eq!(found[0]["severity"], "error");
    let good = policy("arn:aws:execute-api:*:*:*/*/GET/pets");
    let (ok, out) = cli(
        &pool,
        region,
        &["policy", "validate", "-"],
        Some(&good.to_string()),
    );
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "[]");
}
