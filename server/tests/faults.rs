//! Faults, on loopback: PostgreSQL restarted under the console, the AWS
//! emulator stopped or answering never, and an import while 200 sessions
//! browse. Each is bounded: a test that waits forever is a failure.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use app::audit::{self, Action, Actor, Client, NewEvent};
use app::roles::Role;
use http::StatusCode;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn record(pool: &PgPool, n: usize) {
    for i in 0..n {
        let mut tx = pool.begin().await.unwrap();
        let event = NewEvent::new(
            Action::SignIn,
            Some(Actor {
                sub: None,
                username: Some(format!("fault{i}")),
            }),
            Client::default(),
        );
        audit::record(&mut tx, event).await.unwrap();
        tx.commit().await.unwrap();
    }
}

/// Polls `check` every 100 ms until it holds, for at most `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- PostgreSQL restarted -------------------------------------------------

/// A PostgreSQL cluster of the test's own, so that stopping it disturbs no
/// other test. As root (CI), its commands run as the `postgres` user.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn as_owner(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// `initdb` or `pg_ctl` on this cluster's data directory, quiet.
    fn tool(&self, program: &str) -> Command {
        let mut command = self.as_owner(program);
        command
            .arg("-D")
            .arg(&self.data)
            .stdout(std::process::Stdio::null());
        command
    }

    fn new() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's binaries under /usr/lib/postgresql")
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists())
            .max()
            .expect("initdb");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let cluster = Cluster {
            bin,
            data,
            port: free_port(),
            _dir: dir,
        };
        let status = cluster
            .tool("initdb")
            .args(["-U", "postgres", "--auth=trust"])
            .status()
            .unwrap();
        assert!(status.success(), "initdb");
        cluster.start();
        cluster
    }

    fn pg_ctl(&self, args: &[&str]) {
        let status = self.tool("pg_ctl").args(args).status().unwrap();
        assert!(status.success(), "pg_ctl {args:?}");
    }

    fn start(&self) {
        let log = self.data.join("server.log");
        let options = format!("-p {} -k /tmp -c listen_addresses=127.0.0.1", self.port);
        self.pg_ctl(&["-w", "-l", log.to_str().unwrap(), "-o", &options, "start"]);
    }

    fn stop(&self) {
        self.pg_ctl(&["-w", "-m", "fast", "stop"]);
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .args(["-m", "immediate", "stop"])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[tokio::test]
async fn postgres_restarted_while_pages_are_served() {
    let cluster = Cluster::new();
    let admin = PgPoolOptions::new()
        .connect(&cluster.url("postgres"))
        .await
        .unwrap();
    sqlx::query("CREATE DATABASE gatehouse_fault")
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let url = cluster.url("gatehouse_fault");
    gatehouse::db::migrate(&url).await.unwrap();
    let pool = gatehouse::db::connect(&url, 10).await.unwrap();
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let viewer = common::session_cookie(&state, Role::Viewer).await;
    record(&pool, 5).await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        common::get_as(&state, "/reviews", &viewer).await.status,
        StatusCode::OK
    );

    // Pages keep being asked for while the database goes away and comes back.
    let browsing = {
        let (state, viewer) = (state.clone(), viewer.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(6) {
                let path = ["/reviews", "/audit", "/healthz"][seen.len() % 3];
                seen.push((path, common::get_as(&state, path, &viewer).await.status));
            }
            seen
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.stop();
    // The database check's answer is shared for a second: 503 within it.
    eventually(Duration::from_secs(5), "healthz 503", || async {
        let down = common::get_as(&state, "/healthz", "").await;
        down.status == StatusCode::SERVICE_UNAVAILABLE
            && down.body.contains(r#""database":{"ok":false"#)
    })
    .await;
    let page = common::get_as(&state, "/reviews", &viewer).await;
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.body
    );
    assert!(page.body.contains("PostgreSQL"), "{}", page.body);
    cluster.start();
    eventually(Duration::from_secs(20), "healthz 200 again", || async {
        common::get_as(&state, "/healthz", "").await.status == StatusCode::OK
    })
    .await;
    // The pool recovered: the same session, a page, an event written.
    assert_eq!(
        common::get_as(&state, "/reviews", &viewer).await.status,
        StatusCode::OK
    );
    record(&pool, 1).await;
    for (path, status) in browsing.await.unwrap() {
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {status} while the database restarted"
        );
    }
    let after = audit::verify(&pool, &[]).await.unwrap().unwrap();
    assert_eq!(after as i64, before + 1, "no event lost, one more written");
    pool.close().await;
}

// ---- The AWS emulator stopped, or answering never --------------------------

/// A moto server of the test's own, to stop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    async fn start() -> Self {
        let python = std::env::var("MOTO_PYTHON").expect(
            "MOTO_PYTHON must name the Python of moto's virtualenv; scripts/test.sh sets it",
        );
        let server = Path::new(&python).with_file_name("moto_server");
        let port = free_port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let moto = Moto { child, endpoint };
        let client = reqwest::Client::new();
        let ping = format!("{}/moto-api/data.json", moto.endpoint);
        eventually(Duration::from_secs(30), "moto up", || async {
            client.get(&ping).send().await.is_ok()
        })
        .await;
        moto
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn with_aws_stopped_pages_show_the_last_known_state(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = common::pool(options).await;
    let mut moto = Moto::start().await;
    let aws = common::aws_at(&moto.endpoint, "us-east-1", Duration::from_secs(2)).await;
    let (state, viewer, _) = common::demo_viewer(pool, aws).await;
    let rules = common::get_as(&state, "/rules", &viewer).await;
    assert_eq!(rules.status, StatusCode::OK);
    assert!(rules.body.contains("read just now"), "read from AWS");
    let policies = common::get_as(&state, "/policies", &viewer).await;
    assert_eq!(policies.status, StatusCode::OK);

    moto.stop();
    let start = Instant::now();
    let rules = common::get_as(&state, "/rules", &viewer).await;
    assert_eq!(rules.status, StatusCode::OK, "{}", rules.body);
    assert!(
        rules
            .body
            .contains("AWS WAF is unreachable: last known state, read"),
        "{}",
        &rules.body[rules.body.len().saturating_sub(3000)..]
    );
    assert!(
        rules.body.contains("BlanketRule"),
        "the rules last read are shown"
    );
    let policies = common::get_as(&state, "/policies", &viewer).await;
    assert!(
        policies
            .body
            .contains("DynamoDB is unreachable: last known state"),
        "{}",
        &policies.body[policies.body.len().saturating_sub(3000)..]
    );
    let health = common::get_as(&state, "/healthz", "").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "answered within the SDK's timeouts: {:?}",
        start.elapsed()
    );
}

/// An emulator that accepts connections and never answers: the health
/// check gives up after its probe timeout instead of hanging.
#[sqlx::test(migrations = "../migrations")]
async fn an_aws_that_never_answers_is_given_up_on(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket); // read nothing, answer nothing
        }
    });
    let aws = common::aws_at(&endpoint, "us-east-1", Duration::from_secs(1)).await;
    let state = common::state(pool, aws).await;
    let start = Instant::now();
    let health = common::get_as(&state, "/healthz", "").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "the probe gave up after its timeout: {:?}",
        start.elapsed()
    );
    // Shared for a few seconds: the next check does not wait again.
    let start = Instant::now();
    assert_eq!(
        common::get_as(&state, "/healthz", "").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(start.elapsed() < Duration::from_millis(500));
}

// ---- An import while 200 sessions browse ----------------------------------

#[sqlx::test(migrations = "../migrations")]
async fn an_import_while_200_sessions_browse(_: PgPoolOptions, options: PgConnectOptions) {
    let pool = common::pool(options).await;
    let state = common::state(pool.clone(), common::aws("us-east-1").await).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = gatehouse::http::router(state.clone());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let mut cookies = Vec::new();
    for n in 0..200 {
        cookies.push(
            common::cookie_for(
                &state,
                &format!("browser{n}"),
                &[Role::Viewer.default_group()],
            )
            .await,
        );
    }
    let events_before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&pool)
        .await
        .unwrap();

    let logs = tempfile::tempdir().unwrap();
    let scenario = gatehouse::traffic::generate::Scenario {
        hours: 2,
        scale: 0.5,
        ..gatehouse::traffic::generate::Scenario::yesterday(chrono::Utc::now())
    };
    let generated = gatehouse::traffic::generate::write_logs(logs.path(), &scenario).unwrap();
    let files = generated
        .files
        .iter()
        .map(|path| gatehouse::traffic::import::LogFile {
            path: path.clone(),
            name: path.display().to_string(),
        })
        .collect();

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let browsers: Vec<_> = cookies
        .into_iter()
        .enumerate()
        .map(|(n, cookie)| {
            let (client, url, done) = (client.clone(), url.clone(), done.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let pages = ["/reviews", "/audit", "/traffic", "/healthz"];
                let mut i = n;
                // At least one page each, then on until the import ends.
                while answers.is_empty() || !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let path = pages[i % pages.len()];
                    i += 1;
                    let asked = Instant::now();
                    let status = client
                        .get(format!("{url}{path}"))
                        .header("cookie", &cookie)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    answers.push((path, status, asked.elapsed()));
                }
                answers
            })
        })
        .collect();
    let summary = gatehouse::traffic::import::import(
        &pool,
        files,
        gatehouse::traffic::import::Source::Cli,
        Default::default(),
        Actor {
            sub: None,
            username: Some("importer".into()),
        },
        Client::default(),
    )
    .await
    .unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(summary.records, generated.records, "the import completed");
    let mut answered = Vec::new();
    for browser in browsers {
        for (path, status, took) in browser.await.unwrap() {
            assert!(
                (200..500).contains(&status),
                "{path} answered {status} after {took:?} during the import"
            );
            answered.push(took);
        }
    }
    assert!(answered.len() >= 200);
    answered.sort();
    eprintln!(
        "{} pages answered during the import; slowest {:?}, median {:?}",
        answered.len(),
        answered[answered.len() - 1],
        answered[answered.len() / 2]
    );
    let imported: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'traffic.logs_imported'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(imported, 1, "the import's audit event is there");
    let events = audit::verify(&pool, &[]).await.unwrap().unwrap();
    assert!(events as i64 > events_before, "every event chained");
    state.health_db.close().await;
    pool.close().await;
}
