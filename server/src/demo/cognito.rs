//! The demo's Cognito user pool: an app client for the console, a group per
//! role, and one user per role plus a second approver (so that a change can
//! be approved by someone other than its author).

use super::{ProvisionError, Resource};
use app::roles::Role;
use app::targets::TargetKind;
use aws_sdk_cognitoidentityprovider::{
    Client,
    types::{ExplicitAuthFlowsType, MessageActionType, PasswordPolicyType, UserPoolPolicyType},
};

pub const USER_POOL: &str = "gatehouse-demo";
pub const APP_CLIENT: &str = "gatehouse-console";
/// Every demo user's password. The demo runs against a local emulator only.
pub const DEMO_PASSWORD: &str = "Gatehouse-demo-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoUser {
    pub username: &'static str,
    pub role: Role,
}

pub const DEMO_USERS: [DemoUser; 6] = [
    DemoUser {
        username: "viewer",
        role: Role::Viewer,
    },
    DemoUser {
        username: "editor",
        role: Role::Editor,
    },
    DemoUser {
        username: "approver",
        role: Role::Approver,
    },
    DemoUser {
        username: "approver2",
        role: Role::Approver,
    },
    DemoUser {
        username: "admin",
        role: Role::Admin,
    },
    // A second admin: settings changes need an admin other than their
    // author.
    DemoUser {
        username: "admin2",
        role: Role::Admin,
    },
];

pub async fn provision(cognito: &Client) -> Result<[Resource; 2], ProvisionError> {
    let pool_id = user_pool(cognito).await?;
    let client_id = app_client(cognito, &pool_id).await?;
    for role in Role::ALL {
        group(cognito, &pool_id, role).await?;
    }
    for user in DEMO_USERS {
        demo_user(cognito, &pool_id, user).await?;
    }
    Ok([
        Resource {
            kind: TargetKind::CognitoUserPool,
            scope: None,
            name: USER_POOL.to_owned(),
            aws_id: pool_id,
            arn: None,
        },
        Resource {
            kind: TargetKind::CognitoAppClient,
            scope: None,
            name: APP_CLIENT.to_owned(),
            aws_id: client_id,
            arn: None,
        },
    ])
}

async fn user_pool(cognito: &Client) -> Result<String, ProvisionError> {
    let step = format!("user pool {USER_POOL}");
    let mut next_token = None;
    loop {
        let page = cognito
            .list_user_pools()
            .max_results(60)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(ProvisionError::at(format!("list user pools for {step}")))?;
        let found = page
            .user_pools()
            .iter()
            .find(|pool| pool.name() == Some(USER_POOL))
            .and_then(|pool| pool.id().map(str::to_owned));
        if let Some(id) = found {
            return Ok(id);
        }
        match page.next_token {
            Some(token) if !token.is_empty() => next_token = Some(token),
            _ => break,
        }
    }
    let password_policy = PasswordPolicyType::builder()
        .minimum_length(12)
        .require_uppercase(true)
        .require_lowercase(true)
        .require_numbers(true)
        .require_symbols(true)
        .build();
    cognito
        .create_user_pool()
        .pool_name(USER_POOL)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(password_policy)
                .build(),
        )
        .send()
        .await
        .map_err(ProvisionError::at(format!("create {step}")))?
        .user_pool
        .and_then(|pool| pool.id)
        .ok_or_else(|| ProvisionError {
            step,
            cause: "AWS answered without a pool id".into(),
        })
}

async fn app_client(cognito: &Client, pool_id: &str) -> Result<String, ProvisionError> {
    let step = format!("app client {APP_CLIENT}");
    let existing = cognito
        .list_user_pool_clients()
        .user_pool_id(pool_id)
        .max_results(60)
        .send()
        .await
        .map_err(ProvisionError::at(format!("list app clients for {step}")))?;
    if let Some(id) = existing
        .user_pool_clients()
        .iter()
        .find(|client| client.client_name() == Some(APP_CLIENT))
        .and_then(|client| client.client_id())
    {
        return Ok(id.to_owned());
    }
    cognito
        .create_user_pool_client()
        .user_pool_id(pool_id)
        .client_name(APP_CLIENT)
        .generate_secret(false)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .map_err(ProvisionError::at(format!("create {step}")))?
        .user_pool_client
        .and_then(|client| client.client_id)
        .ok_or_else(|| ProvisionError {
            step,
            cause: "AWS answered without a client id".into(),
        })
}

async fn group(cognito: &Client, pool_id: &str, role: Role) -> Result<(), ProvisionError> {
    let name = role.default_group();
    let step = format!("group {name}");
    match cognito
        .get_group()
        .user_pool_id(pool_id)
        .group_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            cognito
                .create_group()
                .user_pool_id(pool_id)
                .group_name(name)
                .description(format!("Gatehouse {} role", role.as_str()))
                .send()
                .await
                .map_err(ProvisionError::at(format!("create {step}")))?;
            Ok(())
        }
        Err(err) => Err(ProvisionError::at(format!("get {step}"))(err)),
    }
}

/// Creates the user with a permanent password and puts it in its role's
/// group; a user that exists keeps its password and groups.
async fn demo_user(cognito: &Client, pool_id: &str, user: DemoUser) -> Result<(), ProvisionError> {
    let step = format!("user {}", user.username);
    let found = cognito
        .admin_get_user()
        .user_pool_id(pool_id)
        .username(user.username)
        .send()
        .await;
    match found {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_user_not_found_exception()) =>
        {
            cognito
                .admin_create_user()
                .user_pool_id(pool_id)
                .username(user.username)
                .temporary_password(DEMO_PASSWORD)
                .message_action(MessageActionType::Suppress)
                .send()
                .await
                .map_err(ProvisionError::at(format!("create {step}")))?;
            cognito
                .admin_set_user_password()
                .user_pool_id(pool_id)
                .username(user.username)
                .password(DEMO_PASSWORD)
                .permanent(true)
                .send()
                .await
                .map_err(ProvisionError::at(format!("set password of {step}")))?;
        }
        Err(err) => return Err(ProvisionError::at(format!("get {step}"))(err)),
    }
    let groups = cognito
        .admin_list_groups_for_user()
        .user_pool_id(pool_id)
        .username(user.username)
        .send()
        .await
        .map_err(ProvisionError::at(format!("groups of {step}")))?;
    let group = user.role.default_group();
    if !groups
        .groups()
        .iter()
        .any(|g| g.group_name() == Some(group))
    {
        cognito
            .admin_add_user_to_group()
            .user_pool_id(pool_id)
            .username(user.username)
            .group_name(group)
            .send()
            .await
            .map_err(ProvisionError::at(format!("add {step} to {group}")))?;
    }
    Ok(())
}
