//! Fresh databases for tests: a temporary SQLite file, or a new PostgreSQL database on the
//! server named by QIANSHU_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
//! Without a reachable PostgreSQL the PostgreSQL half says loudly that it was skipped, and fails
//! when CI=true, where the server must be there.

#![allow(dead_code)]

pub mod http;
pub mod s3;

use qianshu::config::DatabaseUrl;
use qianshu::secrets::MasterKey;
use sqlx::{Connection, Executor, PgConnection};

pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The master key test stores are opened with.
pub fn master_key() -> MasterKey {
    MasterKey::from_hex(&"5e".repeat(32), "the test key").unwrap()
}

pub struct TestDb {
    pub url: DatabaseUrl,
    pub dir: tempfile::TempDir,
    admin: Option<(String, String)>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::new(format!("sqlite://{}", dir.path().join("qianshu.db").display()));
        TestDb { url, dir, admin: None }
    }

    /// `None` (after saying so) when no PostgreSQL is reachable outside CI.
    pub async fn postgres() -> Option<TestDb> {
        let admin = std::env::var("QIANSHU_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("PostgreSQL at {admin} is required on CI: {e}");
                }
                eprintln!("SKIPPED: the PostgreSQL half of this test (no PostgreSQL at {admin}: {e})");
                return None;
            }
        };
        let name = format!("qianshu_test_{}", uuid::Uuid::new_v4().simple());
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
        let url = DatabaseUrl::new(format!("{base}/{name}"));
        Some(TestDb { url, dir: tempfile::tempdir().unwrap(), admin: Some((admin, name)) })
    }

    pub async fn drop_database(self) {
        if let Some((admin, name)) = &self.admin
            && let Ok(mut conn) = PgConnection::connect(admin).await
        {
            let _ = conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
        }
    }
}

/// Runs `test` on a fresh SQLite file and on a fresh PostgreSQL database.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::common::TestDb::sqlite().await;
                super::$name(&db).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = $crate::common::TestDb::postgres().await {
                    super::$name(&db).await;
                    db.drop_database().await;
                }
            }
        })*
    };
}
