//! The storage suite, run against SQLite and PostgreSQL alike.

mod common;

use std::path::Path;

use qianshu::blobs::BlobStore;
use qianshu::domain::ExternalId;
use qianshu::domain::id::{FlowGroupId, FlowId, SignId, TemplateId};
use qianshu::domain::tenancy::{Operator, OperatorSync, OrganizationDetails, OrganizationName};
use qianshu::store::{Store, TemplateQuery};
use secrecy::ExposeSecret;
use sqlx::Row;
use sqlx::any::AnyPoolOptions;

use common::TestDb;

const APP_A: &str = "qianshuTestAppA00000000000000000";
const APP_B: &str = "qianshuTestAppB00000000000000000";

fn id(s: &str) -> ExternalId {
    ExternalId::parse(Some(s), "test").unwrap()
}

async fn applied(db: &TestDb) -> Store {
    let store = Store::connect(&db.url).await.unwrap();
    let blobs = BlobStore::local(&db.dir.path().join("blobs")).unwrap();
    let tenants = qianshu::tenants::load(Path::new("tests/fixtures/tenants.json"), &blobs, &store).await.unwrap();
    store.apply_tenants(&tenants).await.unwrap();
    store
}

/// Every row of every table, as text, in a stable order.
async fn dump(db: &TestDb) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new().max_connections(1).connect(db.url.expose()).await.unwrap();
    let mut out = Vec::new();
    for table in [
        "applications",
        "application_features",
        "application_secrets",
        "organizations",
        "operators",
        "templates",
        "template_recipients",
        "template_components",
    ] {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}"))).fetch_all(&pool).await.unwrap();
        let mut lines: Vec<String> = rows
            .iter()
            .map(|r| {
                let cells: Vec<String> = (0..r.columns().len())
                    .map(|i| {
                        r.try_get::<Option<String>, _>(i)
                            .map(|v| format!("{v:?}"))
                            .or_else(|_| r.try_get::<Option<i64>, _>(i).map(|v| format!("{v:?}")))
                            .or_else(|_| r.try_get::<Option<f64>, _>(i).map(|v| format!("{v:?}")))
                            .unwrap()
                    })
                    .collect();
                format!("{table}: {}", cells.join(" | "))
            })
            .collect();
        lines.sort();
        out.extend(lines);
    }
    pool.close().await;
    out
}

async fn applying_the_same_file_twice_changes_nothing(db: &TestDb) {
    let store = applied(db).await;
    let first = dump(db).await;
    let blobs = BlobStore::local(&db.dir.path().join("blobs")).unwrap();
    let tenants = qianshu::tenants::load(Path::new("tests/fixtures/tenants.json"), &blobs, &store).await.unwrap();
    store.apply_tenants(&tenants).await.unwrap();
    assert_eq!(dump(db).await, first);
    let count = |t: &str| first.iter().filter(|l| l.starts_with(&format!("{t}: "))).count();
    assert_eq!(count("applications"), 2);
    assert_eq!(count("application_secrets"), 3);
    assert_eq!(count("organizations"), 4);
    assert_eq!(count("operators"), 5);
    assert_eq!(count("templates"), 3);
    assert_eq!(count("template_components"), 17 + 7);
}

async fn a_failing_apply_leaves_nothing_behind(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let blobs = BlobStore::local(&db.dir.path().join("blobs")).unwrap();
    let mut tenants = qianshu::tenants::load(Path::new("tests/fixtures/tenants.json"), &blobs, &store).await.unwrap();
    // The second application claims the first one's SecretId: only the database can see that.
    let stolen = tenants[0].credentials[0].clone();
    tenants[1].credentials.push(stolen);
    let e = store.apply_tenants(&tenants).await.unwrap_err();
    assert!(format!("{e}").contains("already belongs to another application"), "{e}");
    assert!(store.has_no_application().await.unwrap());
    assert!(dump(db).await.is_empty());
}

async fn a_secret_id_resolves_to_its_application_and_key(db: &TestDb) {
    let store = applied(db).await;
    let (app, key) = store.credential("AKIDtestA2").await.unwrap().unwrap();
    assert_eq!(app.as_str(), APP_A);
    assert_eq!(key.expose_secret(), "testSecretKeyA2000000000000000000");
    assert!(store.credential("AKIDnobody").await.unwrap().is_none());
    let a = store.application(&id(APP_A)).await.unwrap().unwrap();
    assert_eq!(a.flow_quota, 100_000);
    assert_eq!(a.features.len(), 2);
    assert!(store.application(&id(APP_B)).await.unwrap().unwrap().features.is_empty());
}

async fn syncing_an_organization_never_grants_verification(db: &TestDb) {
    let store = applied(db).await;
    let app = id(APP_A);
    let details = OrganizationDetails { address: Some("深圳市南山区".into()), ..Default::default() };
    let name = OrganizationName::parse(Some("新企业"), "n").unwrap();
    store.sync_organization(&app, &id("new_org"), &name, &details).await.unwrap();
    let created = store.organization(&app, &id("new_org")).await.unwrap().unwrap();
    assert!(!created.verified);
    assert_eq!(created.details.address.as_deref(), Some("深圳市南山区"));
    let renamed = OrganizationName::parse(Some("典子谦示例企业（更名）"), "n").unwrap();
    store
        .sync_organization(&app, &id("kev_open_organization_8"), &renamed, &OrganizationDetails::default())
        .await
        .unwrap();
    let kept = store.organization(&app, &id("kev_open_organization_8")).await.unwrap().unwrap();
    assert!(kept.verified);
    assert_eq!(kept.name.as_str(), "典子谦示例企业（更名）");
    assert_eq!(kept.details.legal_name.as_deref(), Some("李四"));
    assert!(store.organization(&id(APP_B), &id("kev_open_organization_8")).await.unwrap().is_none());
}

fn operator(open_id: &str) -> Operator {
    Operator { open_id: id(open_id), name: None, mobile: None, id_card: None, default_role: None, verified: false }
}

async fn operator_sync_creates_updates_and_resigns(db: &TestDb) {
    let store = applied(db).await;
    let (app, org) = (id(APP_A), id("kev_open_organization_8"));
    let failures =
        store.sync_operators(&app, &org, OperatorSync::Create, &[operator("new_op"), operator("kev_8")]).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].id, "kev_8");
    assert!(!store.operator(&app, &org, &id("new_op")).await.unwrap().unwrap().verified);
    let failures = store.sync_operators(&app, &org, OperatorSync::Update, &[operator("ghost")]).await.unwrap();
    assert_eq!(failures[0].id, "ghost");
    let failures = store.sync_operators(&app, &org, OperatorSync::Resign, &[operator("new_op")]).await.unwrap();
    assert!(failures.is_empty());
    assert!(store.operator(&app, &org, &id("new_op")).await.unwrap().is_none());
}

async fn templates_page_filter_and_stay_within_their_application(db: &TestDb) {
    let store = applied(db).await;
    let app = id(APP_A);
    let all = TemplateQuery { limit: 20, ..Default::default() };
    let (page, total) = store.templates(&app, &all).await.unwrap();
    assert_eq!((page.len(), total), (2, 2));
    let (page, total) = store.templates(&app, &TemplateQuery { limit: 1, offset: 1, ..all.clone() }).await.unwrap();
    assert_eq!((page.len(), total), (1, 2));
    let (page, total) =
        store.templates(&app, &TemplateQuery { name_contains: Some("保密".into()), ..all.clone() }).await.unwrap();
    assert_eq!((page[0].name.as_str(), total), ("保密协议", 1));
    let (_, total) =
        store.templates(&app, &TemplateQuery { name_contains: Some("%".into()), ..all.clone() }).await.unwrap();
    assert_eq!(total, 0, "LIKE wildcards in the name are literal");
    let b_template = TemplateId::parse(Some("bTemplate0000000000000000000000B"), "t").unwrap();
    assert!(store.template(&app, &b_template).await.unwrap().is_none());
    let t = store.template(&id(APP_B), &b_template).await.unwrap().unwrap();
    assert_eq!(t.recipients[0].recipient_id, "bRecipient1");
    let employment = TemplateId::parse(Some("yDwgKUUckp1jdy4dUWptGKRavSGWt9cW"), "t").unwrap();
    let t = store.template(&app, &employment).await.unwrap().unwrap();
    assert_eq!(t.components.len(), 17);
    assert_eq!(t.components[0].component_id, "CompanyName");
    assert_eq!(t.components[0].extra.as_deref(), Some(r#"{"Font":"黑体","FontSize":12,"FontAlign":"Left"}"#));
    assert_eq!(t.recipients.iter().map(|r| r.role_name.as_str()).collect::<Vec<_>>(), ["甲方", "乙方"]);
}

on_both_backends!(
    applying_the_same_file_twice_changes_nothing,
    a_failing_apply_leaves_nothing_behind,
    a_secret_id_resolves_to_its_application_and_key,
    syncing_an_organization_never_grants_verification,
    operator_sync_creates_updates_and_resigns,
    templates_page_filter_and_stay_within_their_application,
);

fn planned_group(app: &str, flows: usize, created_on: i64) -> qianshu::domain::flow::FlowGroup {
    use qianshu::domain::flow::{
        ApproveStatus, Approver, Flow, FlowGroup, FlowGroupName, FlowOptions, FlowStatus, SignerKind,
    };
    FlowGroup {
        app_id: id(app),
        flow_group_id: FlowGroupId::generate(),
        name: FlowGroupName::parse(Some("合同组"), "n").unwrap(),
        organization_open_id: id("b_org"),
        operator_open_id: id("b_op"),
        created_on,
        flows: (0..flows)
            .map(|i| Flow {
                flow_id: FlowId::generate(),
                group: None,
                organization_open_id: "b_org".into(),
                operator_open_id: "b_op".into(),
                template_id: TemplateId::parse(Some("bTemplate0000000000000000000000B"), "t").unwrap(),
                name: format!("合同{i}"),
                options: FlowOptions { customer_data: Some("aGk=".into()), ..Default::default() },
                status: FlowStatus::Init,
                deadline: created_on + 100,
                created_on,
                approvers: vec![Approver {
                    recipient_id: "bRecipient1".into(),
                    sign_id: SignId::generate(),
                    signer: SignerKind::ChannelEmployee,
                    role_name: "甲方".into(),
                    custom_role_name: None,
                    organization_open_id: Some("b_org".into()),
                    organization_name: Some("乙应用企业".into()),
                    open_id: Some("b_op".into()),
                    name: Some("周八".into()),
                    mobile: Some("13900000001".into()),
                    id_card: None,
                    status: ApproveStatus::Pending,
                }],
                fields: vec![("F1".into(), format!("值{i}"))],
                document_task: None,
            })
            .collect(),
    }
}

async fn a_group_reads_back_as_it_was_written(db: &TestDb) {
    let store = applied(db).await;
    let mut g = planned_group(APP_B, 3, 1_800_000_000);
    store.create_flow_group(&g).await.unwrap();
    let (name, flows) = store.flow_group(&id(APP_B), &id("b_org"), &g.flow_group_id).await.unwrap().unwrap();
    assert_eq!(name, "合同组");
    for f in &mut g.flows {
        f.group = Some((g.flow_group_id.clone(), "合同组".into()));
    }
    assert_eq!(flows, g.flows);
    let ids = [g.flows[2].flow_id.clone(), g.flows[0].flow_id.clone()];
    assert_eq!(store.flows(&id(APP_B), &id("b_org"), &ids).await.unwrap().len(), 2);
    assert!(store.flow_group(&id(APP_A), &id("b_org"), &g.flow_group_id).await.unwrap().is_none());
    assert!(store.flow_group(&id(APP_B), &id("other"), &g.flow_group_id).await.unwrap().is_none());
    assert!(store.flows(&id(APP_A), &id("b_org"), &ids).await.unwrap().is_empty());
    assert_eq!(store.quota_left(&id(APP_B)).await.unwrap(), (7, 3));
}

async fn concurrent_groups_never_take_more_than_the_quota(db: &TestDb) {
    let store = applied(db).await;
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.create_flow_group(&planned_group(APP_B, 2, 1_800_000_000)).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(qianshu::error::Failure::Client(e)) => {
                assert_eq!(e.code, qianshu::error::Code::OperationDenied_NoQuota)
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(store.quota_left(&id(APP_B)).await.unwrap(), (0, 10));
}

on_both_backends!(a_group_reads_back_as_it_was_written, concurrent_groups_never_take_more_than_the_quota);

async fn the_read_cache_drops_what_this_node_changes(db: &TestDb) {
    let store = applied(db).await.with_cache(std::time::Duration::from_secs(60));
    let (app, org) = (id(APP_A), id("kev_open_organization_8"));
    assert!(store.operator(&app, &org, &id("late_op")).await.unwrap().is_none());
    store.sync_operators(&app, &org, OperatorSync::Create, &[operator("late_op")]).await.unwrap();
    assert!(store.operator(&app, &org, &id("late_op")).await.unwrap().is_some());
    let name = OrganizationName::parse(Some("改名企业"), "n").unwrap();
    assert_eq!(store.organization(&app, &org).await.unwrap().unwrap().name.as_str(), "典子谦示例企业");
    store.sync_organization(&app, &org, &name, &OrganizationDetails::default()).await.unwrap();
    assert_eq!(store.organization(&app, &org).await.unwrap().unwrap().name.as_str(), "改名企业");
}

on_both_backends!(the_read_cache_drops_what_this_node_changes);
