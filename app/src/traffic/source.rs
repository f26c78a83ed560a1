//! Where an analysis reads WAF logs from (SPEC §2, §8): a log source is
//! either the logs **imported** into PostgreSQL, or an **Athena** table
//! over the logs in S3. Sources are registered like every other target
//! (`TargetKind::LogSource`, a settings change approved by a second
//! admin); the Traffic page and `gatehouse traffic … --source NAME` choose
//! one, and the choice is part of the analysis's link.

use super::athena::LogTable;
use super::athena_table::NewLogTable;
use crate::targets::{ManagedTarget, TargetKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use super::runs::IMPORTED;

/// An Athena log source as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AthenaSource {
    /// The registered name (`athena-demo`).
    pub name: String,
    /// The Region Athena runs in.
    pub region: String,
    pub workgroup: String,
    /// `s3://…/` for query results, unless the workgroup enforces its own.
    pub output_location: Option<String>,
    pub table: LogTable,
    /// The web ACLs whose logs the table holds, and their account.
    pub web_acls: Vec<String>,
    pub account: Option<String>,
    /// The table's S3 location, as Glue has it (what the IAM policy lets
    /// Athena read).
    pub location: Option<String>,
    /// The table Gatehouse makes when the change registering the source is
    /// applied, unless it exists by then.
    pub create_table: Option<NewLogTable>,
}

/// A registered source, as the analyses use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogSource {
    Imported { name: String },
    Athena(Box<AthenaSource>),
}

impl LogSource {
    pub fn name(&self) -> &str {
        match self {
            LogSource::Imported { name } => name,
            LogSource::Athena(source) => &source.name,
        }
    }

    /// Reads a registered target; `None` for other kinds of target.
    pub fn of(target: &ManagedTarget) -> Option<Result<LogSource, String>> {
        (target.kind == TargetKind::LogSource).then(|| Self::read(target))
    }

    fn read(target: &ManagedTarget) -> Result<LogSource, String> {
        let detail = &target.detail;
        let text = |key: &str| detail.get(key).and_then(Value::as_str).map(str::to_owned);
        match text("type").as_deref() {
            None | Some("imported") => Ok(LogSource::Imported {
                name: target.name.clone(),
            }),
            Some("athena") => {
                let needed = |key: &str| {
                    text(key).ok_or_else(|| format!("log source {}: no {key}", target.name))
                };
                let region = match (text("region_column"), text("region_value")) {
                    (Some(column), Some(value)) => Some((column, value)),
                    _ => None,
                };
                let source = AthenaSource {
                    name: target.name.clone(),
                    region: target.region.clone(),
                    workgroup: needed("workgroup")?,
                    output_location: text("output_location"),
                    table: LogTable {
                        database: needed("database")?,
                        table: needed("table")?,
                        date_column: text("date_column").unwrap_or_else(|| "date".into()),
                        region,
                    },
                    web_acls: detail
                        .get("web_acls")
                        .and_then(Value::as_array)
                        .map(|all| {
                            all.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                    account: text("account"),
                    location: text("location"),
                    create_table: match detail.get("create_table") {
                        None | Some(Value::Null) => None,
                        Some(spec) => Some(serde_json::from_value(spec.clone()).map_err(|e| {
                            format!("log source {}: the table to create: {e}", target.name)
                        })?),
                    },
                };
                source.validate()?;
                Ok(LogSource::Athena(Box::new(source)))
            }
            Some(other) => Err(format!(
                "log source {}: unknown type {other:?}",
                target.name
            )),
        }
    }
}

impl AthenaSource {
    /// The names are Glue's, the locations S3's, and a table to create is
    /// the table read.
    pub fn validate(&self) -> Result<(), String> {
        self.table.validate()?;
        // us-east-1, ap-southeast-2, us-gov-west-1: it names the endpoint.
        let parts: Vec<&str> = self.region.split('-').collect();
        let region_ok = parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
            && parts
                .last()
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
        if !region_ok {
            return Err(format!("region: {:?} is not an AWS Region", self.region));
        }
        let name_ok = |text: &str| {
            !text.is_empty()
                && text.len() <= 128
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !name_ok(&self.name) || self.name.len() > 64 {
            return Err(format!(
                "name: {:?} is not a source name (1 to 64 letters, digits, '-', '_' or '.')",
                self.name
            ));
        }
        if !name_ok(&self.workgroup) {
            return Err(format!(
                "workgroup: {:?} is not an Athena workgroup name",
                self.workgroup
            ));
        }
        for location in self.output_location.iter().chain(&self.location) {
            if !location.starts_with("s3://") || !(6..=1024).contains(&location.len()) {
                return Err(format!("{location:?} is not an s3:// location"));
            }
        }
        if let Some(account) = &self.account
            && !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "account: {account:?} is not a 12-digit AWS account id"
            ));
        }
        if self.web_acls.len() > 100 {
            return Err("web ACLs: name at most 100".into());
        }
        if let Some(bad) = self.web_acls.iter().find(|name| !name_ok(name)) {
            return Err(format!("web ACL: {bad:?} is not a web ACL name"));
        }
        if let Some(new) = &self.create_table {
            new.validate()?;
            if new.log_table() != self.table {
                return Err("the table to create is not the table the source reads".into());
            }
        }
        Ok(())
    }

    /// The S3 location of the table's logs: as Glue has it, or where the
    /// table Gatehouse makes will read.
    pub fn logs_location(&self) -> Option<String> {
        self.location
            .clone()
            .or_else(|| self.create_table.as_ref().map(|new| new.location()))
    }

    /// What a target's `detail` holds for it.
    pub fn detail(&self) -> Value {
        json!({
            "type": "athena",
            "workgroup": self.workgroup,
            "output_location": self.output_location,
            "database": self.table.database,
            "table": self.table.table,
            "date_column": self.table.date_column,
            "region_column": self.table.region.as_ref().map(|(column, _)| column),
            "region_value": self.table.region.as_ref().map(|(_, value)| value),
            "web_acls": self.web_acls,
            "account": self.account,
            "location": self.location,
            "create_table": self.create_table,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(detail: Value) -> ManagedTarget {
        ManagedTarget {
            kind: TargetKind::LogSource,
            scope: None,
            name: "athena-demo".into(),
            aws_id: "athena-demo".into(),
            arn: None,
            region: "us-east-1".into(),
            detail,
        }
    }

    #[test]
    fn an_athena_source_reads_back_from_what_it_stores() {
        let source = AthenaSource {
            name: "athena-demo".into(),
            region: "us-east-1".into(),
            workgroup: "primary".into(),
            output_location: Some("s3://results/".into()),
            table: LogTable {
                database: "waf".into(),
                table: "waf_logs".into(),
                date_column: "date".into(),
                region: Some(("region".into(), "us-east-1".into())),
            },
            web_acls: vec!["shop".into()],
            account: Some("123456789012".into()),
            location: Some("s3://logs/AWSLogs/123456789012/WAFLogs/".into()),
            create_table: None,
        };
        let read = LogSource::of(&target(source.detail())).unwrap().unwrap();
        assert_eq!(read, LogSource::Athena(Box::new(source)));
        assert_eq!(
            LogSource::of(&target(json!({"type": "imported"}))),
            Some(Ok(LogSource::Imported {
                name: "athena-demo".into()
            }))
        );
    }

    #[test]
    fn a_stored_source_with_a_bad_name_is_refused() {
        let bad = json!({"type": "athena", "workgroup": "primary", "database": "waf", "table": "x\"; DROP"});
        assert!(
            LogSource::of(&target(bad))
                .unwrap()
                .unwrap_err()
                .contains("Glue name")
        );
        let long = json!({"type": "athena", "workgroup": "primary", "database": "waf", "table": "t",
                          "output_location": format!("s3://{}", "b".repeat(1100))});
        assert!(
            LogSource::of(&target(long))
                .unwrap()
                .unwrap_err()
                .contains("not an s3:// location")
        );
        let missing = json!({"type": "athena", "database": "waf", "table": "t"});
        assert!(
            LogSource::of(&target(missing))
                .unwrap()
                .unwrap_err()
                .contains("workgroup")
        );
    }
}
