//! The demo's DynamoDB table of group → policy mappings, read by the API
//! Gateway Lambda authorizer: the `pet-veterinarian` policy of the AWS
//! authorizer example, stored as a map as AWS's sample stack writes it, and
//! two more groups so the decision matrix says something — `pet-owner`
//! stored as a JSON string, `petstore-admin` as a map with an explicit
//! deny.

use super::{ProvisionError, Resource};
use app::policies::mapping::{Mapping, Stored};
use app::policies::table;
use app::targets::TargetKind;
use aws_sdk_dynamodb::{
    Client,
    types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
        ScalarAttributeType,
    },
};

pub const TABLE: &str = "auth-policy-store";
pub const PARTITION_KEY: &str = "group";
pub const VETERINARIAN_GROUP: &str = "pet-veterinarian";

/// Invoke the v1 pet store API and `GET /petstore/v2/status`, from the two
/// office networks only.
pub const VETERINARIAN_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "execute-api:Invoke",
      "Resource": [
        "arn:aws:execute-api:*:*:*/*/*/petstore/v1/*",
        "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status"
      ],
      "Condition": {
        "IpAddress": {
          "aws:SourceIp": ["192.0.2.0/24", "198.51.100.0/24"]
        }
      }
    }
  ]
}"#;

pub const OWNER_GROUP: &str = "pet-owner";

/// Read the pets, never delete anything.
pub const OWNER_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ReadPets",
      "Effect": "Allow",
      "Action": "execute-api:Invoke",
      "Resource": [
        "arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets",
        "arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets/*"
      ]
    },
    {
      "Sid": "NeverDelete",
      "Effect": "Deny",
      "Action": "execute-api:Invoke",
      "Resource": "arn:aws:execute-api:*:*:*/*/DELETE/*"
    }
  ]
}"#;

pub const ADMIN_GROUP: &str = "petstore-admin";

/// Everything under /petstore/, but only from the first office network.
pub const ADMIN_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Everything",
      "Effect": "Allow",
      "Action": "execute-api:Invoke",
      "Resource": "arn:aws:execute-api:*:*:*/*/*/petstore/*"
    },
    {
      "Sid": "OnlyFromTheOffice",
      "Effect": "Deny",
      "Action": "execute-api:Invoke",
      "Resource": "arn:aws:execute-api:*:*:*/*/*/petstore/*",
      "Condition": {
        "NotIpAddress": {
          "aws:SourceIp": "192.0.2.0/24"
        }
      }
    }
  ]
}"#;

pub async fn provision(dynamodb: &Client) -> Result<Resource, ProvisionError> {
    let step = format!("DynamoDB table {TABLE}");
    let described = dynamodb.describe_table().table_name(TABLE).send().await;
    let table = match described {
        Ok(out) => out.table,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            create_table(dynamodb, &step).await?
        }
        Err(err) => return Err(ProvisionError::at(format!("describe {step}"))(err)),
    };
    let mappings = [
        (VETERINARIAN_GROUP, VETERINARIAN_POLICY, Stored::Map),
        (OWNER_GROUP, OWNER_POLICY, Stored::String),
        (ADMIN_GROUP, ADMIN_POLICY, Stored::Map),
    ];
    for (group, policy, stored) in mappings {
        put_policy(dynamodb, group, policy, stored).await?;
    }
    Ok(Resource {
        kind: TargetKind::DynamodbTable,
        scope: None,
        name: TABLE.to_owned(),
        aws_id: TABLE.to_owned(),
        arn: table.and_then(|t| t.table_arn),
    })
}

async fn create_table(
    dynamodb: &Client,
    step: &str,
) -> Result<Option<aws_sdk_dynamodb::types::TableDescription>, ProvisionError> {
    let key = KeySchemaElement::builder()
        .attribute_name(PARTITION_KEY)
        .key_type(KeyType::Hash)
        .build()
        .map_err(ProvisionError::at(step.to_owned()))?;
    let attribute = AttributeDefinition::builder()
        .attribute_name(PARTITION_KEY)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(ProvisionError::at(step.to_owned()))?;
    let created = dynamodb
        .create_table()
        .table_name(TABLE)
        .key_schema(key)
        .attribute_definitions(attribute)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(ProvisionError::at(format!("create {step}")))?;
    Ok(created.table_description)
}

/// Writes a mapping only when the group has none, so a policy someone has
/// since edited is never overwritten.
async fn put_policy(
    dynamodb: &Client,
    group: &str,
    policy: &str,
    stored: Stored,
) -> Result<(), ProvisionError> {
    let document: serde_json::Value =
        serde_json::from_str(policy).map_err(ProvisionError::at(format!("policy of {group}")))?;
    let mapping = Mapping {
        group: group.to_owned(),
        policy: document,
        stored,
    };
    let put = dynamodb
        .put_item()
        .table_name(TABLE)
        .item(PARTITION_KEY, AttributeValue::S(group.into()))
        .item("policy", table::policy_value(&mapping))
        .condition_expression("attribute_not_exists(#group)")
        .expression_attribute_names("#group", PARTITION_KEY)
        .send()
        .await;
    match put {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(())
        }
        Err(err) => Err(ProvisionError::at(format!("policy of {group}"))(err)),
    }
}
