//! The table Gatehouse can create for an Athena log source: the
//! partition-projected WAF log table AWS documents for Athena — JSON
//! SerDe over the files WAF delivers to
//! `s3://BUCKET/AWSLogs/ACCOUNT/WAFLogs/REGION/WEBACL/yyyy/MM/dd/HH/mm/`,
//! partitioned by region (`cloudfront` for CloudFront web ACLs) and day,
//! the partitions projected from a start date to `NOW` so that no
//! `ALTER TABLE ADD PARTITION` is ever needed.
//!
//! It is created through the Glue API; the admin sees the same table as
//! the `CREATE EXTERNAL TABLE` statement Athena would run, before it is
//! created. The columns are those the analyses read and those a person
//! browsing the table in Athena looks at first; the JSON SerDe skips the
//! rest of a record.

use super::athena::LogTable;
use serde::{Deserialize, Serialize};

/// What the admin names for the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLogTable {
    pub database: String,
    pub table: String,
    /// The bucket WAF delivers the logs to.
    pub bucket: String,
    pub account: String,
    /// The web ACL's name as WAF writes it in the log files' keys.
    pub web_acl: String,
    /// The Region of a regional web ACL, or `cloudfront`.
    pub region: String,
    /// The first day to project (`yyyy/MM/dd`).
    pub first_day: String,
}

/// (name, Hive type) of each column, in order.
pub const COLUMNS: [(&str, &str); 12] = [
    ("timestamp", "bigint"),
    ("formatversion", "int"),
    ("webaclid", "string"),
    ("terminatingruleid", "string"),
    ("terminatingruletype", "string"),
    ("action", "string"),
    ("httpsourcename", "string"),
    ("httpsourceid", "string"),
    ("responsecodesent", "string"),
    ("labels", "array<struct<name:string>>"),
    (
        "httprequest",
        "struct<clientip:string,country:string,headers:array<struct<name:string,value:string>>,\
         uri:string,args:string,httpversion:string,httpmethod:string,requestid:string,\
         fragment:string,scheme:string,host:string>",
    ),
    ("ja3fingerprint", "string"),
];

const SERDE: &str = "org.openx.data.jsonserde.JsonSerDe";
const INPUT_FORMAT: &str = "org.apache.hadoop.mapred.TextInputFormat";
const OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";

impl NewLogTable {
    /// Checks every name against what Glue, S3 and WAF accept, so that the
    /// statement shown and the table created say only what was meant.
    pub fn validate(&self) -> Result<(), String> {
        self.log_table().validate()?;
        let bucket_ok = (3..=63).contains(&self.bucket.len())
            && self
                .bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(format!(
                "bucket: {:?} is not an S3 bucket name",
                self.bucket
            ));
        }
        if !(self.account.len() == 12 && self.account.bytes().all(|b| b.is_ascii_digit())) {
            return Err(format!(
                "account: {:?} is not a 12-digit AWS account id",
                self.account
            ));
        }
        let web_acl_ok = !self.web_acl.is_empty()
            && self.web_acl.len() <= 128
            && self
                .web_acl
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !web_acl_ok {
            return Err(format!("web ACL: {:?} is not a web ACL name", self.web_acl));
        }
        let day = chrono::NaiveDate::parse_from_str(&self.first_day, "%Y/%m/%d");
        if day.is_err() {
            return Err(format!(
                "first day: {:?} is not a day like 2026/01/31",
                self.first_day
            ));
        }
        Ok(())
    }

    /// The table as a log source reads it.
    pub fn log_table(&self) -> LogTable {
        LogTable {
            database: self.database.clone(),
            table: self.table.clone(),
            date_column: "date".into(),
            region: Some(("region".into(), self.region.clone())),
        }
    }

    /// Where the web ACL's logs lie, above the region.
    pub fn location(&self) -> String {
        format!("s3://{}/AWSLogs/{}/WAFLogs/", self.bucket, self.account)
    }

    /// The table's properties: partition projection.
    pub fn parameters(&self) -> Vec<(&'static str, String)> {
        vec![
            ("EXTERNAL", "TRUE".into()),
            ("projection.enabled", "true".into()),
            ("projection.region.type", "enum".into()),
            ("projection.region.values", self.region.clone()),
            ("projection.date.type", "date".into()),
            ("projection.date.range", format!("{},NOW", self.first_day)),
            ("projection.date.format", "yyyy/MM/dd".into()),
            ("projection.date.interval", "1".into()),
            ("projection.date.interval.unit", "DAYS".into()),
            (
                "storage.location.template",
                format!("{}${{region}}/{}/${{date}}/", self.location(), self.web_acl),
            ),
        ]
    }

    /// The statement Athena would run to create the same table.
    pub fn ddl(&self) -> String {
        let columns: Vec<String> = COLUMNS
            .iter()
            .map(|(name, kind)| format!("  `{name}` {kind}"))
            .collect();
        let properties: Vec<String> = self
            .parameters()
            .iter()
            .filter(|(key, _)| *key != "EXTERNAL")
            .map(|(key, value)| format!("  '{key}' = '{value}'"))
            .collect();
        format!(
            "CREATE EXTERNAL TABLE `{}`.`{}` (\n{}\n)\nPARTITIONED BY (`region` string, `date` string)\n\
             ROW FORMAT SERDE '{SERDE}'\nSTORED AS INPUTFORMAT '{INPUT_FORMAT}'\n\
             OUTPUTFORMAT '{OUTPUT_FORMAT}'\nLOCATION '{}'\nTBLPROPERTIES (\n{}\n)",
            self.database,
            self.table,
            columns.join(",\n"),
            self.location(),
            properties.join(",\n")
        )
    }
}

pub use glue::{create, ensure};

mod glue {
    use super::{COLUMNS, INPUT_FORMAT, NewLogTable, OUTPUT_FORMAT, SERDE};
    use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor, TableInput};

    fn column(name: &str, kind: &str) -> Result<Column, String> {
        Column::builder()
            .name(name)
            .r#type(kind)
            .build()
            .map_err(|e| e.to_string())
    }

    /// Creates the table unless Glue has it; `true` when it made it. A
    /// table made meanwhile by someone else is as good.
    pub async fn ensure(glue: &aws_sdk_glue::Client, new: &NewLogTable) -> Result<bool, String> {
        let there = || async {
            let table = glue
                .get_table()
                .database_name(&new.database)
                .name(&new.table);
            table.send().await.is_ok()
        };
        if there().await {
            return Ok(false);
        }
        match create(glue, new).await {
            Ok(()) => Ok(true),
            Err(_) if there().await => Ok(false),
            Err(problem) => Err(problem),
        }
    }

    /// Creates the database (unless it exists) and the table through Glue.
    pub async fn create(glue: &aws_sdk_glue::Client, new: &NewLogTable) -> Result<(), String> {
        new.validate()?;
        let exists = glue.get_database().name(&new.database).send().await.is_ok();
        if !exists {
            let database = aws_sdk_glue::types::DatabaseInput::builder()
                .name(&new.database)
                .description("WAF logs for Gatehouse's analyses")
                .build()
                .map_err(|e| e.to_string())?;
            let made = glue.create_database().database_input(database).send().await;
            // Made meanwhile by someone else: as good.
            if let Err(e) = made
                && glue
                    .get_database()
                    .name(&new.database)
                    .send()
                    .await
                    .is_err()
            {
                return Err(refused("CreateDatabase", e));
            }
        }
        let columns = COLUMNS
            .iter()
            .map(|(name, kind)| column(name, kind))
            .collect::<Result<Vec<_>, _>>()?;
        let storage = StorageDescriptor::builder()
            .set_columns(Some(columns))
            .location(new.location())
            .input_format(INPUT_FORMAT)
            .output_format(OUTPUT_FORMAT)
            .serde_info(SerDeInfo::builder().serialization_library(SERDE).build())
            .build();
        let mut table = TableInput::builder()
            .name(&new.table)
            .table_type("EXTERNAL_TABLE")
            .storage_descriptor(storage)
            .partition_keys(column("region", "string")?)
            .partition_keys(column("date", "string")?);
        for (key, value) in new.parameters() {
            table = table.parameters(key, value);
        }
        let table = table.build().map_err(|e| e.to_string())?;
        glue.create_table()
            .database_name(&new.database)
            .table_input(table)
            .send()
            .await
            .map_err(|e| refused("CreateTable", e))?;
        Ok(())
    }

    fn refused<E: std::error::Error + 'static>(operation: &str, error: E) -> String {
        let context = aws_sdk_glue::error::DisplayErrorContext(&error).to_string();
        tracing::warn!(operation, error = %context, "Glue refused a call");
        match context.contains("AlreadyExists") {
            true => format!("Glue refused {operation}: it already exists"),
            false => format!("Glue refused {operation}; the console's log has AWS's reason"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> NewLogTable {
        NewLogTable {
            database: "waf".into(),
            table: "waf_logs".into(),
            bucket: "shop-waf-logs".into(),
            account: "123456789012".into(),
            web_acl: "shop".into(),
            region: "us-east-1".into(),
            first_day: "2026/01/01".into(),
        }
    }

    #[test]
    fn the_statement_shown_is_the_partition_projected_table_aws_documents() {
        let ddl = demo().ddl();
        assert!(
            ddl.starts_with("CREATE EXTERNAL TABLE `waf`.`waf_logs` ("),
            "{ddl}"
        );
        assert!(ddl.contains("PARTITIONED BY (`region` string, `date` string)"));
        assert!(ddl.contains("'projection.date.range' = '2026/01/01,NOW'"));
        assert!(ddl.contains(
            "'storage.location.template' = 's3://shop-waf-logs/AWSLogs/123456789012/WAFLogs/${region}/shop/${date}/'"
        ));
        assert!(ddl.contains("ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'"));
        assert!(ddl.contains("`httprequest` struct<clientip:string,country:string,headers:array<struct<name:string,value:string>>,uri:string"));
    }

    #[test]
    fn names_that_would_change_the_statement_are_refused() {
        assert!(demo().validate().is_ok());
        let quote = NewLogTable {
            web_acl: "shop'/x".into(),
            ..demo()
        };
        assert!(quote.validate().unwrap_err().contains("web ACL"));
        let bucket = NewLogTable {
            bucket: "Shop Logs".into(),
            ..demo()
        };
        assert!(bucket.validate().is_err());
        let day = NewLogTable {
            first_day: "2026-01-01".into(),
            ..demo()
        };
        assert!(day.validate().unwrap_err().contains("2026/01/31"));
    }
}
