//! The storage suite, run against SQLite and PostgreSQL alike.

mod common;

use std::path::Path;

use qianshu::blobs::BlobStore;
use qianshu::domain::ExternalId;
use qianshu::domain::id::{FlowGroupId, FlowId, SignId, TemplateId};
use qianshu::domain::tenancy::{CallbackSettings, Operator, OperatorSync, OrganizationDetails, OrganizationName};
use qianshu::secrets::MasterKey;
use qianshu::store::{Store, TemplateQuery};
use secrecy::ExposeSecret;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::AnyPoolOptions;

use common::TestDb;

const APP_A: &str = "qianshuTestAppA00000000000000000";
const APP_B: &str = "qianshuTestAppB00000000000000000";

fn id(s: &str) -> ExternalId {
    ExternalId::parse(Some(s), "test").unwrap()
}

async fn applied(db: &TestDb) -> Store {
    let store = Store::connect(&db.url, common::master_key()).await.unwrap();
    let blobs = BlobStore::local(&db.dir.path().join("blobs")).unwrap();
    let tenants = qianshu::tenants::load(Path::new("tests/fixtures/tenants.json"), &blobs, &store).await.unwrap();
    store.apply_tenants(&tenants).await.unwrap();
    store
}

/// The database itself, past the store.
async fn raw(db: &TestDb) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new().max_connections(1).connect(db.url.expose()).await.unwrap()
}

/// Every row of every table, as text, in a stable order.
async fn dump(db: &TestDb) -> Vec<String> {
    let pool = raw(db).await;
    let mut out = Vec::new();
    for table in [
        "applications",
        "application_features",
        "application_secrets",
        "server_secrets",
        "organizations",
        "organization_seals",
        "operators",
        "templates",
        "template_recipients",
        "template_components",
        "template_snapshots",
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
    assert_eq!(count("template_snapshots"), 3);
    assert_eq!(count("template_components"), 0, "snapshots hold the components now");
}

async fn a_failing_apply_leaves_nothing_behind(db: &TestDb) {
    let store = Store::connect(&db.url, common::master_key()).await.unwrap();
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

const PLAINTEXT_KEYS: [&str; 3] =
    ["testSecretKeyA0000000000000000000", "testSecretKeyA2000000000000000000", "testSecretKeyB0000000000000000000"];

async fn secrets_are_stored_sealed_and_read_back_in_plaintext(db: &TestDb) {
    let store = Store::connect(&db.url, common::master_key()).await.unwrap();
    let blobs = BlobStore::local(&db.dir.path().join("blobs")).unwrap();
    let mut tenants = qianshu::tenants::load(Path::new("tests/fixtures/tenants.json"), &blobs, &store).await.unwrap();
    tenants[0].application.callback = Some(CallbackSettings {
        url: "https://callback.example/qianshu".into(),
        aes_key: Some("callbackAesKey00000000000000000A".into()),
        token: Some("callbackToken".into()),
    });
    store.apply_tenants(&tenants).await.unwrap();
    let url_key = store.server_secret("url-signing").await.unwrap();

    let pool = raw(db).await;
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT secret_key FROM application_secrets").fetch_all(&pool).await.unwrap();
    let (callback_key, callback_token): (String, String) =
        sqlx::query_as("SELECT callback_aes_key, callback_token FROM applications WHERE app_id = $1")
            .bind(APP_A)
            .fetch_one(&pool)
            .await
            .unwrap();
    let server_secret: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = 'url-signing'")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(keys.len(), 3);
    let stored = [keys, vec![callback_key, callback_token, server_secret]].concat();
    let plaintexts =
        [&PLAINTEXT_KEYS[..], &["callbackAesKey00000000000000000A", "callbackToken", url_key.expose_secret()]].concat();
    for value in &stored {
        assert!(value.starts_with("enc1:"), "{value}");
        for plain in &plaintexts {
            assert!(!value.contains(plain), "{value} holds {plain}");
        }
    }

    let (_, key) = store.credential("AKIDtestB").await.unwrap().unwrap();
    assert_eq!(key.expose_secret(), "testSecretKeyB0000000000000000000");
    let callback = store.application(&id(APP_A)).await.unwrap().unwrap().callback.unwrap();
    assert_eq!(callback.aes_key.unwrap().expose_secret(), "callbackAesKey00000000000000000A");
    assert_eq!(callback.token.unwrap().expose_secret(), "callbackToken");
    assert_eq!(url_key.expose_secret().len(), 64);
    assert_eq!(store.server_secret("url-signing").await.unwrap().expose_secret(), url_key.expose_secret());
    let sealed_once = dump(db).await;
    store.apply_tenants(&tenants).await.unwrap();
    assert_eq!(dump(db).await, sealed_once, "applying the same secrets again keeps their ciphertexts");
    store.close().await;
}

async fn plaintext_secrets_of_an_older_version_are_sealed_at_start_once(db: &TestDb) {
    applied(db).await.close().await;
    let pool = raw(db).await;
    sqlx::query("UPDATE application_secrets SET secret_key = $1 WHERE secret_id = 'AKIDtestA'")
        .bind(PLAINTEXT_KEYS[0])
        .execute(&pool)
        .await
        .unwrap();
    let old_url_key = "ab".repeat(32);
    sqlx::query("INSERT INTO server_secrets (name, value) VALUES ('url-signing', $1)")
        .bind(&old_url_key)
        .execute(&pool)
        .await
        .unwrap();

    let store = Store::connect(&db.url, common::master_key()).await.unwrap();
    let stored: String = sqlx::query_scalar("SELECT secret_key FROM application_secrets WHERE secret_id = 'AKIDtestA'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(stored.starts_with("enc1:") && !stored.contains(PLAINTEXT_KEYS[0]), "{stored}");
    let (_, key) = store.credential("AKIDtestA").await.unwrap().unwrap();
    assert_eq!(key.expose_secret(), PLAINTEXT_KEYS[0]);
    assert_eq!(store.server_secret("url-signing").await.unwrap().expose_secret(), old_url_key);
    store.close().await;
    pool.close().await;

    let sealed = dump(db).await;
    Store::connect(&db.url, common::master_key()).await.unwrap().close().await;
    assert_eq!(dump(db).await, sealed, "a second start seals nothing again");
}

async fn a_store_opened_with_another_master_key_refuses_to_start(db: &TestDb) {
    applied(db).await.close().await;
    let pool = raw(db).await;
    // A plaintext value first in line shows that nothing is sealed when the start fails.
    sqlx::query("UPDATE application_secrets SET secret_key = $1 WHERE secret_id = 'AKIDtestA'")
        .bind(PLAINTEXT_KEYS[0])
        .execute(&pool)
        .await
        .unwrap();
    let before = dump(db).await;
    let other = MasterKey::from_hex(&"17".repeat(32), "another key").unwrap();
    let e = Store::connect(&db.url, other).await.err().expect("another master key must not open the store");
    assert_eq!(
        format!("{e:#}"),
        "the secret application_secrets.secret_key of `AKIDtestA2` does not open with the master key from another key. \
         If this database was sealed under another master key, set --master-key (QIANSHU_MASTER_KEY) to that key; \
         qianshu never replaces secrets it cannot open"
    );
    assert_eq!(dump(db).await, before);
    pool.close().await;
    Store::connect(&db.url, common::master_key()).await.unwrap().close().await;
}

async fn a_sealed_secret_copied_to_another_row_does_not_open(db: &TestDb) {
    applied(db).await.close().await;
    let pool = raw(db).await;
    sqlx::query(
        "UPDATE application_secrets SET secret_key = \
         (SELECT secret_key FROM application_secrets WHERE secret_id = 'AKIDtestA') WHERE secret_id = 'AKIDtestB'",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let e = Store::connect(&db.url, common::master_key()).await.err().expect("a moved ciphertext must not open");
    assert!(
        format!("{e:#}").starts_with(
            "the secret application_secrets.secret_key of `AKIDtestB` does not open with the master key from the test key."
        ),
        "{e:#}"
    );
}

/// The fixture tenants file, its template PDFs made absolute and the first organisation given
/// `seals`, written where `load` will read it.
fn tenants_with_seals(db: &TestDb, seals: serde_json::Value) -> std::path::PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("tenants.json")).unwrap()).unwrap();
    for app in file["Applications"].as_array_mut().unwrap() {
        for t in app["Templates"].as_array_mut().unwrap() {
            if let Some(pdf) = t["Pdf"].as_str() {
                t["Pdf"] = fixtures.join(pdf).display().to_string().into();
            }
        }
    }
    file["Applications"][0]["Organizations"][0]["Seals"] = seals;
    let path = db.dir.path().join("tenants-with-seals.json");
    std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
    path
}

fn seal_png() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seal.png").display().to_string()
}

async fn seals_are_applied_as_blobs_and_read_with_their_organization(db: &TestDb) {
    let store = Store::connect(&db.url, common::master_key()).await.unwrap();
    let blobs = BlobStore::local(&db.dir.path().join("blobs")).unwrap();
    let path = tenants_with_seals(
        db,
        serde_json::json!([
            {"Name": "合同专用章", "Image": seal_png()},
            {"SealId": "finance_seal_1", "Name": "财务专用章", "Image": seal_png()}
        ]),
    );
    for _ in 0..2 {
        let tenants = qianshu::tenants::load(&path, &blobs, &store).await.unwrap();
        store.apply_tenants(&tenants).await.unwrap();
    }
    let rows = dump(db).await;
    let seals: Vec<&String> = rows.iter().filter(|l| l.starts_with("organization_seals: ")).collect();
    assert_eq!(seals.len(), 2, "applied twice, stored once: {seals:?}");
    let org = store.organization(&id(APP_A), &id("kev_open_organization_8")).await.unwrap().unwrap();
    let png = std::fs::read(seal_png()).unwrap();
    let sha256 = qianshu::api::tc3::sha256_hex(&png);
    let found: Vec<(&str, &str, &str)> =
        org.seals.iter().map(|s| (s.seal_id.as_str(), s.name.as_str(), s.image_sha256.as_str())).collect();
    // Without a SealId a seal is known by its name: the first 32 hex digits of its SHA-256.
    let by_name = qianshu::api::tc3::sha256_hex("合同专用章".as_bytes())[..32].to_owned();
    assert_eq!(found, [(by_name.as_str(), "合同专用章", sha256.as_str()), ("finance_seal_1", "财务专用章", &sha256)]);
    assert_eq!(blobs.get(&sha256).await.unwrap(), png);
    let other = store.organization(&id(APP_A), &id("kev_open_organization_9")).await.unwrap().unwrap();
    assert!(other.seals.is_empty());
}

async fn a_seal_that_cannot_be_drawn_is_refused_naming_its_entry(db: &TestDb) {
    let store = Store::connect(&db.url, common::master_key()).await.unwrap();
    let blobs = BlobStore::local(&db.dir.path().join("blobs")).unwrap();
    let at = "Applications[0].Organizations[0].Seals";
    let refusal = |seals: serde_json::Value| {
        let path = tenants_with_seals(db, seals);
        let (store, blobs) = (&store, &blobs);
        async move { format!("{:#}", qianshu::tenants::load(&path, blobs, store).await.expect_err("refused")) }
    };
    let opaque = db.dir.path().join("opaque.png");
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, 2, 2);
    encoder.set_color(png::ColorType::Rgb);
    encoder.write_header().unwrap().write_image_data(&[200, 30, 30].repeat(4)).unwrap();
    std::fs::write(&opaque, &png).unwrap();
    assert_eq!(
        refusal(serde_json::json!([{"Name": "合同专用章", "Image": opaque}])).await,
        format!(
            "{at}[0].Image: {} is opaque; a seal is drawn over the page and needs a transparent background",
            opaque.display()
        )
    );
    let broken = db.dir.path().join("broken.png");
    std::fs::write(&broken, [&png[..40], &[0; 8]].concat()).unwrap();
    let e = refusal(serde_json::json!([{"Name": "合同专用章", "Image": broken}])).await;
    assert!(e.starts_with(&format!("{at}[0].Image: {} is not a usable image: ", broken.display())), "{e}");
    let jpeg = db.dir.path().join("seal.jpg");
    std::fs::write(&jpeg, [0xFF, 0xD8, 0xFF, 0xE0]).unwrap();
    assert_eq!(
        refusal(serde_json::json!([{"Name": "合同专用章", "Image": jpeg}])).await,
        format!("{at}[0].Image: {} is not a PNG file (a seal needs a transparent background)", jpeg.display())
    );
    let twice =
        serde_json::json!([{"Name": "合同专用章", "Image": seal_png()}, {"Name": "合同专用章", "Image": seal_png()}]);
    let by_name = qianshu::api::tc3::sha256_hex("合同专用章".as_bytes())[..32].to_owned();
    assert_eq!(
        refusal(twice).await,
        format!("{at}[1].SealId: `{by_name}` appears twice (a seal without SealId is known by its Name)")
    );
    assert_eq!(
        refusal(serde_json::json!([{"Name": " ", "Image": seal_png()}])).await,
        format!("{at}[0].Name: must not be empty")
    );
    let e = refusal(serde_json::json!([{"Name": "合同专用章", "Image": "missing.png"}])).await;
    assert!(e.starts_with(&format!("{at}[0].Image: reading ")), "{e}");
    assert!(store.has_no_application().await.unwrap());
}

on_both_backends!(
    seals_are_applied_as_blobs_and_read_with_their_organization,
    a_seal_that_cannot_be_drawn_is_refused_naming_its_entry,
);

on_both_backends!(
    secrets_are_stored_sealed_and_read_back_in_plaintext,
    plaintext_secrets_of_an_older_version_are_sealed_at_start_once,
    a_store_opened_with_another_master_key_refuses_to_start,
    a_sealed_secret_copied_to_another_row_does_not_open,
    applying_the_same_file_twice_changes_nothing,
    a_failing_apply_leaves_nothing_behind,
    a_secret_id_resolves_to_its_application_and_key,
    syncing_an_organization_never_grants_verification,
    operator_sync_creates_updates_and_resigns,
    templates_page_filter_and_stay_within_their_application,
);

/// A group of `app`'s on the current version of `bTemplate…B`.
async fn planned_group(store: &Store, app: &str, flows: usize, created_on: i64) -> qianshu::domain::flow::FlowGroup {
    let template = TemplateId::parse(Some("bTemplate0000000000000000000000B"), "t").unwrap();
    let snapshot = store.template(&id(app), &template).await.unwrap().unwrap().snapshot.clone();
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
                template_id: template.clone(),
                template_snapshot: snapshot.clone(),
                name: format!("合同{i}"),
                options: FlowOptions { customer_data: Some("aGk=".into()), ..Default::default() },
                status: FlowStatus::Init,
                flow_message: None,
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
                    routing_order: 1,
                    page: Default::default(),
                    status: ApproveStatus::Pending,
                    approve_time: None,
                    approve_message: None,
                    review: qianshu::domain::review::SignReview::NotNeeded,
                }],
                fields: vec![("F1".into(), format!("值{i}"))],
                document_task: None,
            })
            .collect(),
    }
}

async fn a_group_reads_back_as_it_was_written(db: &TestDb) {
    let store = applied(db).await;
    let mut g = planned_group(&store, APP_B, 3, 1_800_000_000).await;
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
            tokio::spawn(
                async move { store.create_flow_group(&planned_group(&store, APP_B, 2, 1_800_000_000).await).await },
            )
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

/// Batches written at once (as PostgreSQL's group commit does), each charging two
/// applications last, one of them with quota for only some: exactly that many are written,
/// and none fails (two transactions taking the same rows in another order would deadlock).
async fn concurrent_batches_of_two_applications_charge_exactly_the_quota(db: &TestDb) {
    let store = applied(db).await;
    let template_a = TemplateId::parse(Some("yDwgKUUckp1jdy4dUWptGKRavSGWt9cW"), "t").unwrap();
    let snapshot_a = store.template(&id(APP_A), &template_a).await.unwrap().unwrap().snapshot.clone();
    let mut batches = Vec::new();
    for i in 0..12 {
        let mut of_a = planned_group(&store, APP_B, 1, 1_800_000_000).await;
        of_a.app_id = id(APP_A);
        for f in &mut of_a.flows {
            f.template_id = template_a.clone();
            f.template_snapshot = snapshot_a.clone();
        }
        let of_b = planned_group(&store, APP_B, 2, 1_800_000_000).await;
        // Half the batches name the applications the other way round.
        batches.push(if i % 2 == 0 { vec![of_a, of_b] } else { vec![of_b, of_a] });
    }
    let tasks: Vec<_> = batches
        .into_iter()
        .map(|batch| {
            let store = store.clone();
            tokio::spawn(async move { store.create_flow_groups(&batch).await.map(|o| (batch, o)) })
        })
        .collect();
    let mut written_b = 0;
    for t in tasks {
        let (batch, outcomes) = t.await.unwrap().unwrap();
        for (g, outcome) in batch.iter().zip(outcomes) {
            let stored = store.app_flow_group(&g.app_id, &g.flow_group_id).await.unwrap().is_some();
            assert_eq!(stored, outcome.is_ok(), "{outcome:?}");
            match (g.app_id.as_str(), outcome) {
                (APP_A, outcome) => assert!(outcome.is_ok(), "{outcome:?}"),
                (_, Ok(())) => written_b += 1,
                (_, Err(e)) => assert_eq!(e.code, qianshu::error::Code::OperationDenied_NoQuota),
            }
        }
    }
    assert_eq!(written_b, 5);
    assert_eq!(store.quota_left(&id(APP_B)).await.unwrap(), (0, 10));
    assert_eq!(store.quota_left(&id(APP_A)).await.unwrap(), (99_988, 12));
}

/// A batch as group commit writes it: several applications, each group charged in turn (one
/// refused in the middle), and values that JSON, SQL or a multi-row insert could mangle.
async fn a_batch_charges_each_group_in_turn_and_keeps_every_value_exactly(db: &TestDb) {
    let store = applied(db).await;
    let tricky = "引号\"反斜杠\\ 单引号' 换行\n制表\t😀 {\"json\": [1, null]} $1 ?";
    let mut groups = Vec::new();
    for flows in [4, 4, 3, 2] {
        groups.push(planned_group(&store, APP_B, flows, 1_800_000_000).await);
    }
    let template_a = TemplateId::parse(Some("yDwgKUUckp1jdy4dUWptGKRavSGWt9cW"), "t").unwrap();
    let snapshot_a = store.template(&id(APP_A), &template_a).await.unwrap().unwrap().snapshot.clone();
    let mut of_a = planned_group(&store, APP_B, 1, 1_800_000_000).await;
    of_a.app_id = id(APP_A);
    for f in &mut of_a.flows {
        f.template_id = template_a.clone();
        f.template_snapshot = snapshot_a.clone();
    }
    groups.insert(1, of_a);
    let first = &mut groups[0].flows[0];
    first.name = tricky.into();
    first.options.description = Some(String::new());
    first.options.custom_show_map = Some(tricky.into());
    // PostgreSQL receives each column as an array literal: NULL unquoted would be a null there.
    first.fields = vec![("F1".into(), tricky.into()), ("F2".into(), String::new()), ("F3".into(), "NULL".into())];
    first.approvers[0].name = Some(tricky.into());
    first.approvers[0].organization_name = None;

    let outcomes = store.create_flow_groups(&groups).await.unwrap();
    let refused: Vec<(usize, String)> =
        outcomes.iter().enumerate().filter_map(|(i, o)| o.as_ref().err().map(|e| (i, e.message.clone()))).collect();
    assert_eq!(refused, [(3, format!("The group needs 3 contracts of quota; application {APP_B} has 2 left."))]);
    assert!(matches!(&outcomes[3], Err(e) if e.code == qianshu::error::Code::OperationDenied_NoQuota));
    for (i, g) in groups.iter_mut().enumerate() {
        let read = store.app_flow_group(&g.app_id, &g.flow_group_id).await.unwrap();
        if i == 3 {
            assert!(read.is_none());
            continue;
        }
        let (name, flows) = read.unwrap();
        for f in &mut g.flows {
            f.group = Some((g.flow_group_id.clone(), "合同组".into()));
        }
        assert_eq!((name.as_str(), &flows), ("合同组", &g.flows));
    }
    assert_eq!(store.quota_left(&id(APP_B)).await.unwrap(), (0, 10));
    assert_eq!(store.quota_left(&id(APP_A)).await.unwrap(), (99_999, 1));
}

on_both_backends!(
    a_group_reads_back_as_it_was_written,
    concurrent_groups_never_take_more_than_the_quota,
    concurrent_batches_of_two_applications_charge_exactly_the_quota,
    a_batch_charges_each_group_in_turn_and_keeps_every_value_exactly
);

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

/// Every column of a flow's document row that says who holds it and how often it was tried.
async fn queue_row(db: &TestDb, flow_id: &FlowId) -> (String, i64, i64, bool) {
    let pool = AnyPoolOptions::new().max_connections(1).connect(db.url.expose()).await.unwrap();
    let row = sqlx::query("SELECT state, attempts, renders, lease_token FROM flow_documents WHERE flow_id = $1")
        .bind(flow_id.as_str())
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    (row.get("state"), row.get("attempts"), row.get("renders"), row.get::<Option<String>, _>("lease_token").is_some())
}

/// Long enough for a 1 ms lease to have run out.
async fn after_the_lease() {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}

async fn a_worker_whose_lease_ran_out_changes_nothing_of_the_next_holders(db: &TestDb) {
    use qianshu::store::documents::{DocumentState, Outcome};
    let store = applied(db).await;
    let g = planned_group(&store, APP_B, 1, 1_800_000_000).await;
    store.create_flow_group(&g).await.unwrap();
    let flow = &g.flows[0].flow_id;
    let a = store.claim_documents(8, 1).await.unwrap().pop().unwrap();
    assert_eq!((&a.flow_id, a.attempts), (flow, 1));
    after_the_lease().await;
    let b = store.claim_document(&g.app_id, flow, 60_000).await.unwrap().unwrap();
    assert_eq!(b.attempts, 2);

    assert!(!store.retry_document(&a, 0).await.unwrap());
    store.release_documents(std::slice::from_ref(&a)).await.unwrap();
    assert!(!store.finish_document(&a, &Outcome::Failed { error: "A failed".into() }).await.unwrap());
    assert_eq!(queue_row(db, flow).await, ("PENDING".into(), 2, 0, true));
    assert!(store.document(&g.app_id, flow).await.unwrap().unwrap().leased);
    let other = ExternalId::parse(Some(APP_A), "app").unwrap();
    assert_eq!(store.document(&other, flow).await.unwrap(), None, "another application's document is not found");
    assert!(store.claim_document(&other, flow, 60_000).await.unwrap().is_none());
    assert!(store.flow(&other, flow).await.unwrap().is_none());
    assert_eq!(store.flow(&g.app_id, flow).await.unwrap().map(|f| f.flow_id), Some(flow.clone()));
    assert!(store.claim_documents(8, 60_000).await.unwrap().is_empty(), "B still holds the job");

    assert!(store.retry_document(&b, 0).await.unwrap());
    assert_eq!(queue_row(db, flow).await, ("PENDING".into(), 2, 0, false));
    let c = store.claim_documents(8, 60_000).await.unwrap().pop().unwrap();
    store.release_documents(std::slice::from_ref(&c)).await.unwrap();
    assert_eq!(queue_row(db, flow).await, ("PENDING".into(), 2, 0, false), "a release is as if never claimed");
    let d = store.claim_document(&g.app_id, flow, 60_000).await.unwrap().unwrap();
    assert!(store.finish_document(&d, &Outcome::Failed { error: "D failed".into() }).await.unwrap());
    let doc = store.document(&g.app_id, flow).await.unwrap().unwrap();
    assert_eq!((doc.state, doc.error.as_deref()), (DocumentState::Failed, Some("D failed")));
    assert_eq!(queue_row(db, flow).await, ("FAILED".into(), 3, 1, false));
}

async fn a_document_made_after_the_lease_ran_out_is_recorded_once(db: &TestDb) {
    use qianshu::store::documents::{DocumentState, Outcome};
    let store = applied(db).await;
    let g = planned_group(&store, APP_B, 1, 1_800_000_000).await;
    store.create_flow_group(&g).await.unwrap();
    let flow = &g.flows[0].flow_id;
    let a = store.claim_document(&g.app_id, flow, 1).await.unwrap().unwrap();
    after_the_lease().await;
    let b = store.claim_documents(8, 60_000).await.unwrap().pop().unwrap();
    let sha256 = "ab".repeat(32);
    assert!(store.finish_document(&a, &Outcome::Ready { sha256: sha256.clone() }).await.unwrap());
    assert!(!store.finish_document(&b, &Outcome::Ready { sha256: "cd".repeat(32) }).await.unwrap());
    assert!(!store.finish_document(&b, &Outcome::Failed { error: "B failed".into() }).await.unwrap());
    let doc = store.document(&g.app_id, flow).await.unwrap().unwrap();
    assert_eq!((doc.state, doc.sha256), (DocumentState::Ready, Some(sha256)));
    assert_eq!(queue_row(db, flow).await, ("READY".into(), 2, 1, false));
}

async fn a_job_claimed_too_often_without_a_result_is_recorded_failed(db: &TestDb) {
    use qianshu::store::documents::{DocumentState, MAX_ATTEMPTS};
    let store = applied(db).await;
    let g = planned_group(&store, APP_B, 2, 1_800_000_000).await;
    store.create_flow_group(&g).await.unwrap();
    let (first, second) = (&g.flows[0].flow_id, &g.flows[1].flow_id);
    for attempt in 1..=MAX_ATTEMPTS {
        // Each claim's worker dies: nothing is retried, released or finished.
        let mut claimed: Vec<_> =
            store.claim_documents(8, 1).await.unwrap().into_iter().map(|l| (l.flow_id, l.attempts)).collect();
        claimed.sort();
        let mut expected = vec![(first.clone(), attempt), (second.clone(), attempt)];
        expected.sort();
        assert_eq!(claimed, expected);
        after_the_lease().await;
    }
    assert!(store.claim_document(&g.app_id, first, 60_000).await.unwrap().is_none());
    assert!(store.claim_documents(8, 60_000).await.unwrap().is_empty());
    let given_up = "given up after 3 attempts that ended without a result (the worker making it stopped)";
    for flow in [first, second] {
        let doc = store.document(&g.app_id, flow).await.unwrap().unwrap();
        assert_eq!((doc.state, doc.error.as_deref()), (DocumentState::Failed, Some(given_up)));
        assert_eq!(queue_row(db, flow).await, ("FAILED".into(), 4, 1, false));
    }
}

on_both_backends!(
    a_worker_whose_lease_ran_out_changes_nothing_of_the_next_holders,
    a_document_made_after_the_lease_ran_out_is_recorded_once,
    a_job_claimed_too_often_without_a_result_is_recorded_failed,
);

const SECRECY: &str = "yDRS4UUgygqdcj51UuO4zjEyWTmzsIAR";

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The fixture tenants with `change` made to them (PDFs named from the fixtures' folder),
/// applied from a file of the test's own.
async fn apply_changed(db: &TestDb, store: &Store, change: impl FnOnce(&mut serde_json::Value)) {
    let mut tenants: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("tenants.json")).unwrap()).unwrap();
    for app in tenants["Applications"].as_array_mut().unwrap() {
        for t in app["Templates"].as_array_mut().unwrap() {
            if let Some(pdf) = t["Pdf"].as_str() {
                t["Pdf"] = fixtures().join(pdf).display().to_string().into();
            }
        }
    }
    change(&mut tenants);
    let file = db.dir.path().join("changed.json");
    std::fs::write(&file, serde_json::to_vec(&tenants).unwrap()).unwrap();
    let blobs = BlobStore::local(&db.dir.path().join("blobs")).unwrap();
    store.apply_tenants(&qianshu::tenants::load(&file, &blobs, store).await.unwrap()).await.unwrap();
}

/// Application A's `SECRECY` template in the fixture tenants.
fn secrecy(tenants: &mut serde_json::Value) -> &mut serde_json::Value {
    let templates = tenants["Applications"][0]["Templates"].as_array_mut().unwrap();
    templates.iter_mut().find(|t| t["TemplateId"] == SECRECY).unwrap()
}

/// A one-contract group of application A on the current version of `SECRECY`, as `plan`
/// makes it: approvers take their role names from the template, the flow its snapshot.
async fn secrecy_group(store: &Store) -> qianshu::domain::flow::FlowGroup {
    use qianshu::domain::flow::{
        ApproveStatus, Approver, Flow, FlowGroup, FlowGroupName, FlowOptions, FlowStatus, SignerKind,
    };
    let template = store.template(&id(APP_A), &TemplateId::parse(Some(SECRECY), "t").unwrap()).await.unwrap().unwrap();
    let approver = |i: usize, signer: SignerKind, name: &str| Approver {
        recipient_id: template.recipients[i].recipient_id.clone(),
        sign_id: SignId::generate(),
        signer,
        role_name: template.recipients[i].role_name.clone(),
        custom_role_name: None,
        organization_open_id: (i == 0).then(|| "kev_open_organization_8".into()),
        organization_name: (i == 0).then(|| "典子谦示例企业".into()),
        open_id: (i == 0).then(|| "kev_8".into()),
        name: Some(name.into()),
        mobile: Some("13800000008".into()),
        id_card: None,
        routing_order: template.recipients[i].routing_order,
        page: Default::default(),
        status: ApproveStatus::Pending,
        approve_time: None,
        approve_message: None,
        review: qianshu::domain::review::SignReview::NotNeeded,
    };
    let now = qianshu::store::now();
    FlowGroup {
        app_id: id(APP_A),
        flow_group_id: FlowGroupId::generate(),
        name: FlowGroupName::parse(Some("保密协议组"), "n").unwrap(),
        organization_open_id: id("kev_open_organization_8"),
        operator_open_id: id("kev_8"),
        created_on: now,
        flows: vec![Flow {
            flow_id: FlowId::generate(),
            group: None,
            organization_open_id: "kev_open_organization_8".into(),
            operator_open_id: "kev_8".into(),
            template_id: template.template_id.clone(),
            template_snapshot: template.snapshot.clone(),
            name: "保密协议".into(),
            options: FlowOptions::default(),
            status: FlowStatus::Init,
            flow_message: None,
            deadline: now + 100,
            created_on: now,
            approvers: vec![approver(0, SignerKind::ChannelEmployee, "王五"), approver(1, SignerKind::Person, "张三")],
            fields: vec![("PartyA".into(), "典子谦示例企业".into()), ("PartyB".into(), "张三".into())],
            document_task: None,
        }],
    }
}

/// The contract's document, made now.
async fn document(db: &TestDb, store: &Store, flow: &FlowId) -> Vec<u8> {
    let blobs = BlobStore::local(&db.dir.path().join("blobs")).unwrap();
    let fonts = std::sync::Arc::new(qianshu::pdf::font::Fonts::load(&Default::default()).unwrap());
    let synthesis =
        qianshu::synthesis::Synthesis::new(store.clone(), blobs.clone(), fonts, std::time::Duration::from_secs(60), 1)
            .unwrap();
    let made = synthesis.ensure(&id(APP_A), std::slice::from_ref(flow)).await.unwrap().pop().unwrap().unwrap();
    blobs.get(&made.sha256.unwrap()).await.unwrap().to_vec()
}

async fn snapshots_of(db: &TestDb, template: &str) -> i64 {
    let pool = raw(db).await;
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM template_snapshots WHERE template_id = $1")
        .bind(template)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

async fn a_contract_keeps_the_template_version_it_was_made_from(db: &TestDb) {
    let store = applied(db).await.with_cache(std::time::Duration::from_secs(60));
    let (app, org) = (id(APP_A), id("kev_open_organization_8"));
    let old = secrecy_group(&store).await;
    store.create_flow_group(&old).await.unwrap();
    let old_flow =
        || async { store.flows(&app, &org, std::slice::from_ref(&old.flows[0].flow_id)).await.unwrap()[0].clone() };
    let written = old_flow().await;

    // Another PDF, PartyA moved down, the first recipient renamed.
    apply_changed(db, &store, |t| {
        let s = secrecy(t);
        s["Pdf"] = fixtures().join("../../examples/templates/employment-contract.pdf").display().to_string().into();
        s["Components"][0]["ComponentPosY"] = 300.into();
        s["Recipients"][0]["RoleName"] = "用人单位".into();
    })
    .await;
    let new = secrecy_group(&store).await;
    store.create_flow_group(&new).await.unwrap();
    assert_ne!(new.flows[0].template_snapshot, old.flows[0].template_snapshot);
    assert_eq!(snapshots_of(db, SECRECY).await, 2);

    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/templates");
    let confidentiality = std::fs::read(examples.join("confidentiality-agreement.pdf")).unwrap();
    let employment = std::fs::read(examples.join("employment-contract.pdf")).unwrap();
    // A contract is its template's bytes untouched plus one incremental update.
    let old_document = document(db, &store, &old.flows[0].flow_id).await;
    assert!(old_document.starts_with(&confidentiality) && old_document.len() > confidentiality.len());
    assert!(document(db, &store, &new.flows[0].flow_id).await.starts_with(&employment));

    let unchanged = |flow: &qianshu::domain::flow::Flow, template: &qianshu::domain::template::Template| {
        assert_eq!(template.snapshot, old.flows[0].template_snapshot);
        assert_eq!(template.pdf_sha256, qianshu::api::tc3::sha256_hex(&confidentiality));
        assert_eq!(
            (template.components[0].component_id.as_str(), template.components[0].placement.y),
            ("PartyA", 130.0)
        );
        let roles: Vec<_> = template.recipients.iter().map(|r| (r.role_name.as_str(), r.routing_order)).collect();
        assert_eq!(roles, [("甲方", 1), ("乙方", 2)]);
        assert_eq!(flow, &written);
    };
    let flow = old_flow().await;
    unchanged(&flow, &store.flow_template(&app, &flow).await.unwrap());
    let current = store.flow_template(&app, &new.flows[0]).await.unwrap();
    assert_eq!((current.components[0].placement.y, current.recipients[0].role_name.as_str()), (300.0, "用人单位"));
    assert_eq!(new.flows[0].approvers[0].role_name, "用人单位");

    // Without the template in the file, the contract is still made from the same snapshot.
    apply_changed(db, &store, |t| {
        t["Applications"][0]["Templates"].as_array_mut().unwrap().retain(|t| t["TemplateId"] != SECRECY)
    })
    .await;
    let flow = old_flow().await;
    unchanged(&flow, &store.flow_template(&app, &flow).await.unwrap());
    // Not even a store without a cache sees anything else.
    let fresh = Store::connect(&db.url, common::master_key()).await.unwrap();
    unchanged(&flow, &fresh.flow_template(&app, &flow).await.unwrap());
    assert_eq!(document(db, &fresh, &old.flows[0].flow_id).await, old_document);
    assert_eq!(snapshots_of(db, SECRECY).await, 2);
    // And another application cannot read the snapshot.
    assert!(fresh.template_snapshot(&id(APP_B), &flow.template_snapshot).await.unwrap().is_none());
}

/// Puts the database back as versions before snapshots left it: templates as rows per
/// recipient and component, no snapshots, contracts pinned to none.
async fn as_before_snapshots(db: &TestDb, store: &Store) {
    let pool = raw(db).await;
    let templates: Vec<(String, String)> =
        sqlx::query_as("SELECT app_id, template_id FROM templates").fetch_all(&pool).await.unwrap();
    for (app, template) in templates {
        let t = store.template(&id(&app), &TemplateId::parse(Some(&template), "t").unwrap()).await.unwrap().unwrap();
        for (i, r) in t.recipients.iter().enumerate() {
            sqlx::query(
                "INSERT INTO template_recipients (app_id, template_id, position, recipient_id, role_name, \
                 recipient_type, routing_order) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&app)
            .bind(&template)
            .bind(i as i64)
            .bind(&r.recipient_id)
            .bind(&r.role_name)
            .bind(r.recipient_type.as_str())
            .bind(r.routing_order)
            .execute(&pool)
            .await
            .unwrap();
        }
        for (i, c) in t.components.iter().enumerate() {
            let p = c.placement;
            sqlx::query(
                "INSERT INTO template_components (app_id, template_id, position, component_id, component_name, \
                 component_type, recipient_id, page, pos_x, pos_y, width, height, required, extra) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(&app)
            .bind(&template)
            .bind(i as i64)
            .bind(&c.component_id)
            .bind(&c.component_name)
            .bind(c.component_type.as_str())
            .bind(c.recipient_id.clone())
            .bind(i64::from(p.page))
            .bind(p.x)
            .bind(p.y)
            .bind(p.width)
            .bind(p.height)
            .bind(i64::from(c.required))
            .bind(c.extra.clone())
            .execute(&pool)
            .await
            .unwrap();
        }
    }
    for sql in [
        "UPDATE templates SET snapshot_id = NULL",
        "UPDATE flows SET template_snapshot = NULL",
        "DELETE FROM template_snapshots",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

async fn templates_and_contracts_of_an_older_version_get_their_snapshots_at_start(db: &TestDb) {
    let store = applied(db).await;
    let g = secrecy_group(&store).await;
    store.create_flow_group(&g).await.unwrap();
    let before = dump(db).await;
    as_before_snapshots(db, &store).await;
    store.close().await;
    assert_eq!(snapshots_of(db, SECRECY).await, 0);

    let store = Store::connect(&db.url, common::master_key()).await.unwrap();
    // The same definitions give the same snapshots (made now, though), and nothing is left of
    // the older rows.
    let made_at = |dump: Vec<String>| -> Vec<String> {
        dump.into_iter()
            .map(|l| match l.strip_prefix("template_snapshots: ") {
                Some(row) => row.rsplit_once(" | ").unwrap().0.to_owned(),
                None => l,
            })
            .collect()
    };
    let after = dump(db).await;
    assert_eq!(made_at(after.clone()), made_at(before));
    let flow = store.flows(&id(APP_A), &id("kev_open_organization_8"), &[g.flows[0].flow_id.clone()]).await.unwrap();
    assert_eq!(flow[0].template_snapshot, g.flows[0].template_snapshot);
    let template = store.flow_template(&id(APP_A), &flow[0]).await.unwrap();
    assert_eq!(template.content_id(), template.snapshot, "read back exactly as it was written");
    assert_eq!(template.components.len(), 7);
    store.close().await;
    Store::connect(&db.url, common::master_key()).await.unwrap().close().await;
    assert_eq!(dump(db).await, after, "a second start finds nothing to do");
}

async fn a_snapshot_reads_back_exactly_as_written(db: &TestDb) {
    let store = Store::connect(&db.url, common::master_key()).await.unwrap();
    let blobs = BlobStore::local(&db.dir.path().join("blobs")).unwrap();
    let mut tenants = qianshu::tenants::load(&fixtures().join("tenants.json"), &blobs, &store).await.unwrap();
    let template = tenants[0].templates.iter_mut().find(|t| t.template_id.as_str() == SECRECY).unwrap();
    // Positions found by keyword are computed, and may need all 17 digits: serde_json's default
    // number parsing reads 198.42520000000002 one unit in the last place off.
    template.components[0].placement.x = 0.1 + 0.2;
    template.components[0].placement.y = 595.2756 / 3.0;
    template.snapshot = template.content_id();
    let applied = template.clone();
    store.apply_tenants(&tenants).await.unwrap();
    let stored = store.template(&id(APP_A), &applied.template_id).await.unwrap().unwrap();
    let pinned = store.template_snapshot(&id(APP_A), &applied.snapshot).await.unwrap().unwrap();
    for t in [&stored, &pinned] {
        let p = t.components[0].placement;
        assert_eq!((p.x.to_bits(), p.y.to_bits()), ((0.1f64 + 0.2).to_bits(), (595.2756f64 / 3.0).to_bits()));
        assert_eq!((&t.components, &t.recipients), (&applied.components, &applied.recipients));
        assert_eq!((t.content_id(), &t.snapshot), (applied.snapshot.clone(), &applied.snapshot));
    }
}

on_both_backends!(
    a_contract_keeps_the_template_version_it_was_made_from,
    templates_and_contracts_of_an_older_version_get_their_snapshots_at_start,
    a_snapshot_reads_back_exactly_as_written,
);

async fn a_sign_link_is_found_by_its_token_and_opens_its_group_or_contract(db: &TestDb) {
    use qianshu::domain::link::{LinkTarget, LinkToken, NewSignLink, SignLink, SignerKey};
    let store = applied(db).await;
    let mut g = planned_group(&store, APP_B, 2, 1_800_000_000).await;
    store.create_flow_group(&g).await.unwrap();
    for f in &mut g.flows {
        f.group = Some((g.flow_group_id.clone(), "合同组".into()));
    }
    let signer = SignerKey::of(&g.flows[0].approvers[0]).unwrap();
    let link = |target: LinkTarget, preview: bool| NewSignLink {
        token: LinkToken::generate(),
        app_id: id(APP_B),
        target,
        signer: signer.clone(),
        preview,
        expires_at: 1_800_001_800,
        created_at: 1_800_000_000,
    };
    let group = link(LinkTarget::Group(g.flow_group_id.clone()), false);
    let contract = link(LinkTarget::Flow(g.flows[1].flow_id.clone()), true);
    store.create_sign_links(&[group.clone(), contract.clone()], "CreateSignUrls").await.unwrap();
    for l in [&group, &contract] {
        assert_eq!(
            store.sign_link(&l.token).await.unwrap(),
            Some(SignLink {
                app_id: id(APP_B),
                target: l.target.clone(),
                signer: signer.clone(),
                preview: l.preview,
                expires_at: 1_800_001_800,
                created_at: 1_800_000_000,
            })
        );
    }
    assert_eq!(store.sign_link(&LinkToken::generate()).await.unwrap(), None);

    // What a link opens is looked up by its application alone.
    assert_eq!(
        store.app_flow_group(&id(APP_B), &g.flow_group_id).await.unwrap(),
        Some(("合同组".into(), g.flows.clone()))
    );
    let second = std::slice::from_ref(&g.flows[1].flow_id);
    assert_eq!(store.app_flows(&id(APP_B), second).await.unwrap(), vec![g.flows[1].clone()]);
    assert_eq!(store.app_flow_group(&id(APP_A), &g.flow_group_id).await.unwrap(), None);
    assert_eq!(store.app_flows(&id(APP_A), second).await.unwrap(), vec![]);

    // One call's links are written together or not at all.
    let fresh = link(LinkTarget::Group(g.flow_group_id.clone()), false);
    assert!(store.create_sign_links(&[fresh.clone(), group.clone()], "CreateSignUrls").await.is_err());
    assert_eq!(store.sign_link(&fresh.token).await.unwrap(), None);
}

on_both_backends!(a_sign_link_is_found_by_its_token_and_opens_its_group_or_contract);

/// A signing of `flow` by `sign_id` as a plan would hand it to the store.
fn signed(
    flow: &FlowId,
    sign_id: &SignId,
    status: qianshu::domain::flow::FlowStatus,
    revision: i64,
) -> qianshu::store::signing::SignedContract {
    qianshu::store::signing::SignedContract {
        flow_id: flow.clone(),
        sign_id: sign_id.clone(),
        // Each signer fills a component of their own.
        values: vec![(format!("S{}", sign_id.as_str()), format!("签{revision}"))],
        status,
        revision,
        sha256: format!("{revision:064}"),
        certificate: None,
    }
}

async fn signings_are_guarded_transitions_that_write_all_or_nothing(db: &TestDb) {
    use qianshu::domain::flow::{ApproveStatus, FlowStatus};
    use qianshu::store::documents::Outcome;
    use qianshu::store::signing::{Origin, Recorded, Revision};
    let store = applied(db).await;
    let mut g = planned_group(&store, APP_B, 1, 1_800_000_000).await;
    // A second signer of the same order: the two sign in parallel.
    let mut second = g.flows[0].approvers[0].clone();
    (second.sign_id, second.name) = (SignId::generate(), Some("吴九".into()));
    g.flows[0].approvers.push(second);
    store.create_flow_group(&g).await.unwrap();
    let flow = &g.flows[0].flow_id;
    let (a, b) = (&g.flows[0].approvers[0].sign_id, &g.flows[0].approvers[1].sign_id);
    let lease = store.claim_document(&g.app_id, flow, 60_000).await.unwrap().unwrap();
    assert!(store.finish_document(&lease, &Outcome::Ready { sha256: format!("{:064}", 0) }).await.unwrap());
    let (origin, now) = (Origin::default(), 1_800_000_050);
    let state = || async {
        let f = store.flow(&g.app_id, flow).await.unwrap().unwrap();
        let latest = store.latest_revisions(&g.app_id, std::slice::from_ref(flow)).await.unwrap();
        (f.status, f.approvers.iter().map(|a| a.status).collect::<Vec<_>>(), f.fields, latest[flow].clone())
    };
    let made = state().await;
    assert_eq!(made.3, Revision { number: 0, sha256: format!("{:064}", 0) });

    assert_eq!(
        store.record_signing(&[signed(flow, a, FlowStatus::Part, 1)], None, &origin, now).await.unwrap(),
        Recorded::Done
    );
    let after_a = state().await;
    assert_eq!((after_a.0, &after_a.1[..]), (FlowStatus::Part, &[ApproveStatus::Accept, ApproveStatus::Pending][..]));
    assert_eq!(after_a.3, Revision { number: 1, sha256: format!("{:064}", 1) });
    assert!(after_a.2.contains(&(format!("S{}", a.as_str()), "签1".into())));

    // The same signer again, on the next revision or the same one: nothing is written.
    for revision in [2, 1] {
        assert_eq!(
            store.record_signing(&[signed(flow, a, FlowStatus::Part, revision)], None, &origin, now).await.unwrap(),
            Recorded::Changed
        );
        assert_eq!(state().await, after_a);
    }
    // The other signer on the revision already taken, or planned on a stale read (PART where
    // the contract is now complete): nothing is written.
    assert_eq!(
        store.record_signing(&[signed(flow, b, FlowStatus::All, 1)], None, &origin, now).await.unwrap(),
        Recorded::Changed
    );
    assert_eq!(
        store.record_signing(&[signed(flow, b, FlowStatus::Part, 2)], None, &origin, now).await.unwrap(),
        Recorded::Changed
    );
    assert_eq!(state().await, after_a);
    // Past the deadline nothing moves either.
    assert_eq!(
        store.record_signing(&[signed(flow, b, FlowStatus::All, 2)], None, &origin, now + 100).await.unwrap(),
        Recorded::Changed
    );
    assert_eq!(state().await, after_a);

    assert_eq!(
        store.record_signing(&[signed(flow, b, FlowStatus::All, 2)], None, &origin, now).await.unwrap(),
        Recorded::Done
    );
    let done = state().await;
    assert_eq!((done.0, &done.1[..]), (FlowStatus::All, &[ApproveStatus::Accept, ApproveStatus::Accept][..]));
    assert_eq!(done.3.number, 2);
    // A finished contract cannot be refused.
    assert_eq!(
        store.record_rejection(&[(flow.clone(), b.clone())], "晚了", None, &origin, now).await.unwrap(),
        Recorded::Changed
    );
    assert_eq!(state().await, done);
}

async fn a_one_time_code_is_used_once_and_five_wrong_ones_lock(db: &TestDb) {
    use qianshu::store::signing::{CODE_LOCK_SECONDS, CodeCheck, CodeUse, Origin, Recorded};
    let store = applied(db).await;
    let g = planned_group(&store, APP_B, 1, 1_800_000_000).await;
    store.create_flow_group(&g).await.unwrap();
    let (token, code, now) = ("t".repeat(64), "c".repeat(64), 1_800_000_010);
    assert_eq!(store.check_code(&token, &code, now).await.unwrap(), CodeCheck::Missing);
    assert_eq!(store.issue_code(&token, &code, "13800000001", now, 300, 60).await.unwrap(), Ok(()));
    assert_eq!(store.issue_code(&token, &code, "13800000001", now + 59, 300, 60).await.unwrap(), Err(1));
    assert_eq!(store.check_code(&token, &code, now + 300).await.unwrap(), CodeCheck::Valid);
    assert_eq!(store.check_code(&token, &code, now + 301).await.unwrap(), CodeCheck::Missing);
    assert_eq!(store.check_code(&token, &code, now).await.unwrap(), CodeCheck::Valid);

    // The signing that uses the code consumes it; a second use writes nothing.
    let flow = &g.flows[0].flow_id;
    let sign_id = &g.flows[0].approvers[0].sign_id;
    let lease = store.claim_document(&g.app_id, flow, 60_000).await.unwrap().unwrap();
    let outcome = qianshu::store::documents::Outcome::Ready { sha256: format!("{:064}", 0) };
    assert!(store.finish_document(&lease, &outcome).await.unwrap());
    let use_it = || Some(CodeUse { token_sha256: &token, code_sha256: &code });
    let contract = signed(flow, sign_id, qianshu::domain::flow::FlowStatus::All, 1);
    assert_eq!(
        store.record_signing(std::slice::from_ref(&contract), use_it(), &Origin::default(), now + 301).await.unwrap(),
        Recorded::CodeUnusable
    );
    assert_eq!(
        store.record_signing(std::slice::from_ref(&contract), use_it(), &Origin::default(), now).await.unwrap(),
        Recorded::Done
    );
    assert_eq!(store.check_code(&token, &code, now).await.unwrap(), CodeCheck::Missing);

    let now = now + 60;
    assert_eq!(store.issue_code(&token, &code, "13800000001", now, 300, 60).await.unwrap(), Ok(()));
    let wrong = "w".repeat(64);
    for left in (1..5).rev() {
        assert_eq!(store.check_code(&token, &wrong, now).await.unwrap(), CodeCheck::Wrong { left });
    }
    let until = now + CODE_LOCK_SECONDS;
    assert_eq!(store.check_code(&token, &wrong, now).await.unwrap(), CodeCheck::Locked { until });
    assert_eq!(store.check_code(&token, &code, now + 1).await.unwrap(), CodeCheck::Locked { until });
    assert_eq!(store.code_lock(&token, now + 1).await.unwrap(), Some(until));
    assert_eq!(store.code_lock(&token, until).await.unwrap(), None);
    // The lock voided the code; a new one starts with a clean count.
    assert_eq!(store.check_code(&token, &code, until).await.unwrap(), CodeCheck::Missing);
    assert_eq!(store.issue_code(&token, &code, "13800000001", until, 300, 60).await.unwrap(), Ok(()));
    assert_eq!(store.check_code(&token, &wrong, until).await.unwrap(), CodeCheck::Wrong { left: 4 });
}

async fn a_signing_waiting_for_a_review_is_recorded_only_after_the_latest_result_passed(db: &TestDb) {
    use qianshu::domain::flow::{ApproveStatus, FlowStatus};
    use qianshu::domain::review::{ReviewResult, ReviewTarget, ReviewType, SignReview};
    use qianshu::store::documents::Outcome;
    use qianshu::store::signing::{Origin, Recorded};
    let store = applied(db).await;
    let mut g = planned_group(&store, APP_B, 1, 1_800_000_000).await;
    g.flows[0].approvers[0].review = SignReview::Awaiting;
    store.create_flow_group(&g).await.unwrap();
    let flow = &g.flows[0].flow_id;
    let a = &g.flows[0].approvers[0].sign_id;
    let lease = store.claim_document(&g.app_id, flow, 60_000).await.unwrap().unwrap();
    assert!(store.finish_document(&lease, &Outcome::Ready { sha256: format!("{:064}", 0) }).await.unwrap());
    let (origin, now) = (Origin::default(), 1_800_000_050);
    let review = |kind: ReviewType| ReviewResult { kind, message: Some(format!("{kind:?}")) };
    let target =
        |recipient: Option<&str>| ReviewTarget { flow_id: flow.clone(), recipient_id: recipient.map(Into::into) };
    let signing = [signed(flow, a, FlowStatus::All, 1)];
    let sign = || store.record_signing(&signing, None, &origin, now);
    let state = || async {
        let f = store.flow(&g.app_id, flow).await.unwrap().unwrap();
        (f.status, f.approvers[0].status, f.approvers[0].review.clone())
    };
    assert_eq!(state().await, (FlowStatus::Init, ApproveStatus::Pending, SignReview::Awaiting));
    // No review yet: the signing, planned on a stale read, writes nothing.
    assert_eq!(sign().await.unwrap(), Recorded::Changed);

    // The last result wins, whether it names the signer or the whole contract.
    for (recipient, kind) in [(Some("bRecipient1"), ReviewType::Pass), (None, ReviewType::Reject)] {
        assert!(store.record_reviews(&[target(recipient)], &review(kind), now).await.unwrap());
    }
    assert_eq!(state().await.2, SignReview::Rejected("Reject".into()));
    assert_eq!(sign().await.unwrap(), Recorded::Changed);
    assert!(store.record_reviews(&[target(Some("bRecipient1"))], &review(ReviewType::Pass), now).await.unwrap());
    assert_eq!(state().await, (FlowStatus::Init, ApproveStatus::Pending, SignReview::Passed));
    assert_eq!(sign().await.unwrap(), Recorded::Done);
    assert_eq!(state().await.0, FlowStatus::All);
    // A finished contract, or a signer who signed, takes no review.
    assert!(!store.record_reviews(&[target(None)], &review(ReviewType::Reject), now).await.unwrap());
}

async fn a_signer_is_reminded_once_per_contract(db: &TestDb) {
    let store = applied(db).await;
    let g = planned_group(&store, APP_B, 2, 1_800_000_000).await;
    store.create_flow_group(&g).await.unwrap();
    let signer = |i: usize| (g.flows[i].flow_id.clone(), g.flows[i].approvers[0].sign_id.clone());
    let now = 1_800_000_010;
    assert_eq!(store.record_reminders(&[signer(0)], now).await.unwrap(), [true]);
    assert_eq!(store.record_reminders(&[signer(0), signer(1)], now).await.unwrap(), [false, true]);
    // Two nodes at once: one of them reminds.
    let fresh = planned_group(&store, APP_B, 1, 1_800_000_000).await;
    store.create_flow_group(&fresh).await.unwrap();
    let both = [(fresh.flows[0].flow_id.clone(), fresh.flows[0].approvers[0].sign_id.clone())];
    let (x, y) = tokio::join!(store.record_reminders(&both, now), store.record_reminders(&both, now));
    let mut outcomes = [x.unwrap()[0], y.unwrap()[0]];
    outcomes.sort_unstable();
    assert_eq!(outcomes, [false, true]);
}

on_both_backends!(
    signings_are_guarded_transitions_that_write_all_or_nothing,
    a_one_time_code_is_used_once_and_five_wrong_ones_lock,
    a_signing_waiting_for_a_review_is_recorded_only_after_the_latest_result_passed,
    a_signer_is_reminded_once_per_contract,
);

async fn a_cancel_and_a_signing_racing_have_one_winner(db: &TestDb) {
    use qianshu::domain::flow::{ApproveStatus, FlowStatus};
    use qianshu::store::lifecycle::Cancelled;
    use qianshu::store::signing::{Origin, Recorded};
    let store = applied(db).await;
    let now = 1_800_000_050;
    let mut groups = Vec::new();
    for _ in 0..4 {
        let g = planned_group(&store, APP_B, 2, 1_800_000_000).await;
        store.create_flow_group(&g).await.unwrap();
        groups.push(g);
    }
    let flows: Vec<_> = groups.iter().flat_map(|g| g.flows.iter()).collect();
    let races: Vec<_> = flows
        .iter()
        .map(|f| {
            let (store, flow, sign_id) = (store.clone(), f.flow_id.clone(), f.approvers[0].sign_id.clone());
            let signing = {
                let (store, flow) = (store.clone(), flow.clone());
                tokio::spawn(async move {
                    store
                        .record_signing(&[signed(&flow, &sign_id, FlowStatus::All, 1)], None, &Origin::default(), now)
                        .await
                })
            };
            let cancel =
                tokio::spawn(
                    async move { store.cancel_flow(&id(APP_B), &id("b_org"), &flow, Some("撤销"), now).await },
                );
            (signing, cancel)
        })
        .collect();
    let mut refunds = 0;
    for ((signing, cancel), f) in races.into_iter().zip(&flows) {
        let (signing, cancel) = (signing.await.unwrap().unwrap(), cancel.await.unwrap().unwrap());
        let stored = store.flow(&id(APP_B), &f.flow_id).await.unwrap().unwrap();
        let approver = stored.approvers[0].status;
        match (signing, cancel) {
            (Recorded::Done, Cancelled::Ended { status: FlowStatus::All, .. }) => {
                assert_eq!((stored.status, approver), (FlowStatus::All, ApproveStatus::Accept));
            }
            (Recorded::Changed, Cancelled::Done { refunded: true, .. }) => {
                assert_eq!((stored.status, approver), (FlowStatus::Cancel, ApproveStatus::Cancel));
                assert_eq!(stored.flow_message.as_deref(), Some("撤销"));
                refunds += 1;
            }
            other => panic!("both or neither won: {other:?}"),
        }
    }
    let (left, used) = store.quota_left(&id(APP_B)).await.unwrap();
    assert_eq!((left, used), (2 + refunds, 8 - refunds));
}

async fn a_cancel_refunds_once_and_an_expiry_never(db: &TestDb) {
    use qianshu::domain::flow::{ApproveStatus, FlowStatus};
    use qianshu::store::lifecycle::Cancelled;
    let store = applied(db).await;
    let g = planned_group(&store, APP_B, 3, 1_800_000_000).await;
    store.create_flow_group(&g).await.unwrap();
    let (app, org) = (id(APP_B), id("b_org"));
    let [first, second, third] = [0, 1, 2].map(|i| g.flows[i].flow_id.clone());
    let (now, deadline) = (1_800_000_050, 1_800_000_100);
    let cancelled = store.cancel_flow(&app, &org, &first, None, now).await.unwrap();
    assert_eq!(cancelled, Cancelled::Done { name: "合同0".into(), refunded: true });
    assert_eq!(
        store.cancel_flow(&app, &org, &first, None, now).await.unwrap(),
        Cancelled::Ended { name: "合同0".into(), status: FlowStatus::Cancel }
    );
    assert_eq!(store.quota_left(&app).await.unwrap(), (8, 2));
    // Another organisation's contract, or another application's, is not found.
    assert_eq!(store.cancel_flow(&app, &id("other"), &second, None, now).await.unwrap(), Cancelled::NotFound);
    assert_eq!(store.cancel_flow(&id(APP_A), &org, &second, None, now).await.unwrap(), Cancelled::NotFound);

    // At its deadline a contract is live; past it, it cannot be cancelled even before the sweep.
    assert!(store.expired_flows(deadline, 10).await.unwrap().is_empty());
    assert!(!store.expire_flow(&second, deadline).await.unwrap());
    assert_eq!(
        store.cancel_flow(&app, &org, &second, None, deadline + 1).await.unwrap(),
        Cancelled::Ended { name: "合同1".into(), status: FlowStatus::Deadline }
    );
    assert_eq!(store.expired_flows(deadline + 1, 10).await.unwrap(), [second.clone(), third.clone()]);
    // Two nodes sweeping at once: one expires each contract.
    let sweeps: Vec<_> = (0..2)
        .map(|_| {
            let (store, second) = (store.clone(), second.clone());
            tokio::spawn(async move { store.expire_flow(&second, deadline + 1).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for s in sweeps {
        won += i32::from(s.await.unwrap());
    }
    assert_eq!(won, 1);
    let expired = store.flow(&app, &second).await.unwrap().unwrap();
    assert_eq!((expired.status, expired.approvers[0].status), (FlowStatus::Deadline, ApproveStatus::Deadline));
    assert_eq!(store.expired_flows(deadline + 1, 10).await.unwrap(), [third]);
    assert_eq!(store.quota_left(&app).await.unwrap(), (8, 2));
}

on_both_backends!(a_cancel_and_a_signing_racing_have_one_winner, a_cancel_refunds_once_and_an_expiry_never);

async fn a_dynamic_approver_is_filled_once_whoever_races(db: &TestDb) {
    use qianshu::domain::fill::Filled;
    use qianshu::domain::flow::SignerKind;
    use qianshu::domain::link::{LinkTarget, LinkToken, NewSignLink, Preset, SignerKey};
    use qianshu::store::LinkClaim;
    use qianshu::store::signing::{CodeUse, Recorded};
    let store = applied(db).await;
    let mut g = planned_group(&store, APP_B, 2, 1_800_000_000).await;
    for f in &mut g.flows {
        let a = &mut f.approvers[0];
        (a.signer, a.organization_open_id, a.organization_name, a.open_id, a.name, a.mobile) =
            (SignerKind::DynamicPerson, None, None, None, None, None);
    }
    store.create_flow_group(&g).await.unwrap();
    let filled = |i: usize, name: &str| Filled {
        flow_id: g.flows[i].flow_id.clone(),
        sign_id: g.flows[i].approvers[0].sign_id.clone(),
        recipient_id: "bRecipient1".into(),
        was: SignerKind::DynamicPerson,
        signer: SignerKind::Person,
        organization_open_id: None,
        organization_name: None,
        open_id: None,
        name: Some(name.to_owned()),
        mobile: Some("13900000006".into()),
        id_card: None,
    };
    let now = 1_800_000_010;
    // Past the contract's deadline nothing is filled.
    assert_eq!(store.record_fills(&[filled(0, "甲")], now + 200).await.unwrap(), vec![false]);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, fill) = (store.clone(), filled(0, &format!("人{i}")));
            tokio::spawn(async move { store.record_fills(&[fill], now).await.unwrap()[0] })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        if t.await.unwrap() {
            winners.push(format!("人{i}"));
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let a = store.flow(&g.app_id, &g.flows[0].flow_id).await.unwrap().unwrap().approvers[0].clone();
    assert_eq!((a.signer, a.name.as_ref()), (SignerKind::Person, Some(&winners[0])));
    let ids: Vec<FlowId> = g.flows.iter().map(|f| f.flow_id.clone()).collect();
    assert_eq!(
        store.filled_approvers(&ids).await.unwrap(),
        [(g.flows[0].flow_id.clone(), a.sign_id.clone())].into_iter().collect()
    );

    // A link's claim fills all its places or none: one of them taken meanwhile leaves the
    // other unfilled, the code unused and the link as it was.
    let token = LinkToken::generate();
    let places = ids.iter().map(|f| (f.as_str().to_owned(), "bRecipient1".to_owned())).collect();
    let key = SignerKey::Recipient { places, preset: Preset::default() };
    store
        .create_sign_links(
            &[NewSignLink {
                token: token.clone(),
                app_id: g.app_id.clone(),
                target: LinkTarget::Group(g.flow_group_id.clone()),
                signer: key.clone(),
                preview: false,
                expires_at: now + 3600,
                created_at: now,
            }],
            "CreateSignUrls",
        )
        .await
        .unwrap();
    let (digest, code) = (token.digest(), "c".repeat(64));
    assert_eq!(store.issue_code(&digest, &code, "13800000001", now, 300, 60).await.unwrap(), Ok(()));
    let claimer = SignerKey::Person { name: "钱八".into(), mobile: "13900000006".into() };
    let claim = || LinkClaim {
        token_sha256: &digest,
        from: &key,
        to: &claimer,
        code: CodeUse { token_sha256: &digest, code_sha256: &code },
    };
    assert_eq!(
        store.record_claim(&[filled(1, "钱八"), filled(0, "钱八")], claim(), now).await.unwrap(),
        Recorded::Changed
    );
    assert_eq!(store.flow(&g.app_id, &ids[1]).await.unwrap().unwrap().approvers[0].signer, SignerKind::DynamicPerson);
    assert_eq!(store.sign_link(&token).await.unwrap().unwrap().signer, key);
    assert_eq!(store.record_claim(&[filled(1, "钱八")], claim(), now).await.unwrap(), Recorded::Done);
    assert_eq!(store.sign_link(&token).await.unwrap().unwrap().signer, claimer);
    assert_eq!(store.flow(&g.app_id, &ids[1]).await.unwrap().unwrap().approvers[0].name.as_deref(), Some("钱八"));
    // The code was used by the claim.
    assert_eq!(store.record_claim(&[], claim(), now).await.unwrap(), Recorded::CodeUnusable);
}

on_both_backends!(a_dynamic_approver_is_filled_once_whoever_races);

// ---- callbacks ----

/// Application B's callbacks going to a receiver (never called: the store only queues).
async fn b_calls_back(db: &TestDb, store: &Store) {
    apply_changed(db, store, |t| t["Applications"][1]["CallbackUrl"] = "https://platform.example/callback".into())
        .await;
}

/// The outbox as (stream kind, MsgType, Operate or FlowGroupStatus, state), in stream order.
async fn outbox(db: &TestDb) -> Vec<(String, String, String, String)> {
    let pool = raw(db).await;
    let rows = sqlx::query("SELECT stream, msg_type, payload, state FROM callback_outbox ORDER BY stream, seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.iter()
        .map(|r| {
            let stream: String = r.get("stream");
            let payload: serde_json::Value = serde_json::from_str(&r.get::<String, _>("payload")).unwrap();
            let data = &payload["MsgData"];
            let what = data["Operate"].as_str().or(data["FlowGroupStatus"].as_str()).unwrap().to_owned();
            (stream.split(':').next().unwrap().to_owned(), r.get("msg_type"), what, r.get("state"))
        })
        .collect()
}

/// A one-contract group of B's, its document made, ready to be signed.
async fn signable_group(store: &Store) -> qianshu::domain::flow::FlowGroup {
    use qianshu::store::documents::Outcome;
    let g = planned_group(store, APP_B, 2, 1_800_000_000).await;
    store.create_flow_group(&g).await.unwrap();
    for f in &g.flows {
        let lease = store.claim_document(&g.app_id, &f.flow_id, 60_000).await.unwrap().unwrap();
        assert!(store.finish_document(&lease, &Outcome::Ready { sha256: format!("{:064}", 0) }).await.unwrap());
    }
    g
}

async fn callbacks_are_written_with_each_change_and_claimed_in_order_per_stream(db: &TestDb) {
    use qianshu::domain::flow::FlowStatus;
    use qianshu::store::signing::{Origin, Recorded};
    let store = applied(db).await;
    b_calls_back(db, &store).await;
    let g = signable_group(&store).await;
    let row = |kind: &str, ty: &str, what: &str, state: &str| (kind.into(), ty.into(), what.into(), state.into());
    let starts = vec![
        row("flow", "FlowStatusChange", "start", "PENDING"),
        row("flow", "FlowStatusChange", "start", "PENDING"),
        row("group", "FlowGroupStatusChange", "WAITSIGN", "PENDING"),
    ];
    let mut expected = starts.clone();
    expected.sort();
    let mut written = outbox(db).await;
    written.sort();
    assert_eq!(written, expected);

    // The heads of the three streams go out; nothing behind them while they are held.
    let first = store.claim_callbacks(10, 60_000).await.unwrap();
    assert_eq!(first.len(), 3);
    let (flow, signer) = (&g.flows[0].flow_id, &g.flows[0].approvers[0].sign_id);
    let signing = qianshu::store::signing::SignedContract {
        flow_id: flow.clone(),
        sign_id: signer.clone(),
        values: vec![],
        status: FlowStatus::All,
        revision: 1,
        sha256: format!("{:064}", 1),
        certificate: None,
    };
    assert_eq!(
        store.record_signing(&[signing], None, &Origin::default(), 1_800_000_050).await.unwrap(),
        Recorded::Done
    );
    assert_eq!(store.undelivered_callbacks(&g.app_id).await.unwrap(), 6);
    assert!(store.claim_callbacks(10, 60_000).await.unwrap().is_empty());

    // Once the contract's start is acknowledged its sign goes, then (once that is) its finish.
    let start = first.iter().find(|c| c.payload.contains(flow.as_str()) && c.payload.contains("FlowStatusChange"));
    store.callback_delivered(start.unwrap()).await.unwrap();
    let next = store.claim_callbacks(10, 60_000).await.unwrap();
    assert_eq!(next.len(), 1);
    assert!(next[0].payload.contains(r#""Operate":"sign""#) && next[0].payload.contains(r#""FlowStatus":"ALL""#));
    store.callback_delivered(&next[0]).await.unwrap();
    let finish = store.claim_callbacks(10, 60_000).await.unwrap();
    assert_eq!(finish.len(), 1);
    assert!(finish[0].payload.contains(r#""Operate":"finish""#), "{}", finish[0].payload);

    // The group's second message says one contract is complete and the other not yet.
    let group = first.iter().find(|c| c.payload.contains("FlowGroupStatusChange")).unwrap();
    store.callback_delivered(group).await.unwrap();
    let group_next = store.claim_callbacks(10, 60_000).await.unwrap();
    assert_eq!(group_next.len(), 1);
    assert!(group_next[0].payload.contains(r#""FlowGroupStatus":"WAITSIGN""#));
    assert!(
        group_next[0].payload.contains(r#""FlowStatus":"ALL""#)
            && group_next[0].payload.contains(r#""FlowStatus":"INIT""#)
    );
}

async fn a_holder_whose_lease_ran_out_cannot_put_a_callback_back(db: &TestDb) {
    let store = applied(db).await;
    b_calls_back(db, &store).await;
    let g = signable_group(&store).await;
    let stale = store.claim_callbacks(10, 0).await.unwrap().pop().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let holders = store.claim_callbacks(10, 60_000).await.unwrap();
    assert_eq!(holders.len(), 3);
    let holder = holders.into_iter().find(|c| c.msg_id == stale.msg_id).unwrap();
    assert_eq!(holder.attempts, 2);
    store.retry_callback(&stale, 0, "late").await.unwrap();
    // Still held: not claimable, and no error recorded by the stale holder.
    let again = store.claim_callbacks(10, 60_000).await.unwrap();
    assert!(again.iter().all(|c| c.msg_id != holder.msg_id));
    store.retry_callback(&holder, 0, "HTTP 500").await.unwrap();
    let retried = store.claim_callbacks(10, 60_000).await.unwrap();
    assert!(retried.iter().any(|c| c.msg_id == holder.msg_id && c.attempts == 3));
    assert_eq!(store.undelivered_callbacks(&g.app_id).await.unwrap(), 3);
}

async fn applications_without_a_callback_url_get_no_callbacks(db: &TestDb) {
    use qianshu::store::signing::{Origin, Recorded};
    let store = applied(db).await;
    let g = signable_group(&store).await;
    let (flow, signer) = (&g.flows[0].flow_id, &g.flows[0].approvers[0].sign_id);
    assert_eq!(
        store
            .record_rejection(&[(flow.clone(), signer.clone())], "不签", None, &Origin::default(), 1_800_000_050)
            .await
            .unwrap(),
        Recorded::Done
    );
    assert!(outbox(db).await.is_empty());
    assert!(store.claim_callbacks(10, 60_000).await.unwrap().is_empty());
}

async fn concurrent_signings_of_one_group_number_its_callbacks_one_after_the_other(db: &TestDb) {
    use qianshu::domain::flow::FlowStatus;
    use qianshu::store::signing::{Origin, Recorded, SignedContract};
    let store = applied(db).await;
    b_calls_back(db, &store).await;
    let g = signable_group(&store).await;
    let sign = |i: usize| {
        let store = store.clone();
        let signing = SignedContract {
            flow_id: g.flows[i].flow_id.clone(),
            sign_id: g.flows[i].approvers[0].sign_id.clone(),
            values: vec![],
            status: FlowStatus::All,
            revision: 1,
            sha256: format!("{:064}", 1),
            certificate: None,
        };
        tokio::spawn(async move { store.record_signing(&[signing], None, &Origin::default(), 1_800_000_050).await })
    };
    let (a, b) = (sign(0), sign(1));
    assert_eq!(a.await.unwrap().unwrap(), Recorded::Done);
    assert_eq!(b.await.unwrap().unwrap(), Recorded::Done);
    let pool = raw(db).await;
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM callback_outbox WHERE stream = $1 ORDER BY seq")
        .bind(format!("group:{}", g.flow_group_id.as_str()))
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(seqs, [0, 1, 2]);
    // The later of the two tells the group complete.
    let statuses: Vec<String> = outbox(db).await.into_iter().filter(|r| r.0 == "group").map(|r| r.2).collect();
    assert_eq!(statuses, ["WAITSIGN", "WAITSIGN", "ALL"]);
}

on_both_backends!(
    concurrent_signings_of_one_group_number_its_callbacks_one_after_the_other,
    callbacks_are_written_with_each_change_and_claimed_in_order_per_stream,
    a_holder_whose_lease_ran_out_cannot_put_a_callback_back,
    applications_without_a_callback_url_get_no_callbacks,
);

async fn a_stopping_node_hands_back_its_own_leases_only_and_every_node_reads_the_same_queues(db: &TestDb) {
    use qianshu::store::operations::QueueDepths;
    let store = applied(db).await;
    let other_node = Store::connect(&db.url, common::master_key()).await.unwrap();
    let empty = QueueDepths { documents: 0, oldest_document_seconds: 0, callbacks: 0, oldest_callback_seconds: 0 };
    assert_eq!(store.queue_depths().await.unwrap(), empty);
    let g = planned_group(&store, APP_B, 2, store.now() - 30).await;
    store.create_flow_group(&g).await.unwrap();
    let (first, second) = (&g.flows[0].flow_id, &g.flows[1].flow_id);
    let mine = store.claim_document(&g.app_id, first, 60_000).await.unwrap().unwrap();
    let theirs = other_node.claim_document(&g.app_id, second, 60_000).await.unwrap().unwrap();
    assert_eq!((mine.attempts, theirs.attempts), (1, 1));
    let before = store.now();
    let (here, there) = (store.queue_depths().await.unwrap(), other_node.queue_depths().await.unwrap());
    let after = store.now();
    let counts = |d: &QueueDepths| (d.documents, d.callbacks, d.oldest_callback_seconds);
    assert_eq!(counts(&here), counts(&there), "every node reports the shared queue");
    assert_eq!(here.documents, 2, "held jobs are still in the queue");
    // Both name the same oldest job; each ages it by its own read, so a second may turn between them.
    for depths in [&here, &there] {
        let ages = (before - g.created_on)..=(after - g.created_on);
        assert!(ages.contains(&depths.oldest_document_seconds), "{depths:?}, ages {ages:?}");
    }

    assert_eq!(store.release_leases().await.unwrap(), (1, 0));
    assert_eq!(queue_row(db, first).await, ("PENDING".into(), 0, 0, false), "as if never claimed");
    assert_eq!(queue_row(db, second).await, ("PENDING".into(), 1, 0, true), "the other node's lease is its own");
    let taken: Vec<_> = other_node.claim_documents(8, 60_000).await.unwrap().into_iter().map(|l| l.flow_id).collect();
    assert_eq!(&taken, std::slice::from_ref(first), "handed back jobs are claimable at once");
    assert_eq!(store.release_leases().await.unwrap(), (0, 0));
    other_node.close().await;
}

on_both_backends!(a_stopping_node_hands_back_its_own_leases_only_and_every_node_reads_the_same_queues);
// ---- The evidence trail and reports ----

async fn the_evidence_trail_keeps_links_codes_doors_revisions_and_certificates(db: &TestDb) {
    use qianshu::domain::evidence::{CodeEvent, Door, Report, SignatureCertificate};
    use qianshu::domain::flow::FlowStatus;
    use qianshu::domain::id::ReportId;
    use qianshu::domain::link::{LinkTarget, LinkToken, NewSignLink, SignerKey};
    use qianshu::store::documents::Outcome;
    use qianshu::store::signing::{CodeCheck, CodeUse, Origin, Recorded};
    let store = applied(db).await;
    let g = planned_group(&store, APP_B, 2, 1_800_000_000).await;
    store.create_flow_group(&g).await.unwrap();
    for f in &g.flows {
        let lease = store.claim_document(&g.app_id, &f.flow_id, 60_000).await.unwrap().unwrap();
        assert!(store.finish_document(&lease, &Outcome::Ready { sha256: format!("{:064}", 0) }).await.unwrap());
    }
    let (signed_flow, refused_flow) = (&g.flows[0], &g.flows[1]);
    let token = LinkToken::generate();
    let link = NewSignLink {
        token: token.clone(),
        app_id: id(APP_B),
        target: LinkTarget::Group(g.flow_group_id.clone()),
        signer: SignerKey::of(&signed_flow.approvers[0]).unwrap(),
        preview: false,
        expires_at: 1_800_001_800,
        created_at: 1_800_000_010,
    };
    store.create_sign_links(&[link], "ChannelCreateBatchQuickSignUrl").await.unwrap();
    let (digest, code) = (token.digest(), "c".repeat(64));
    assert_eq!(store.issue_code(&digest, &code, "13812345678", 1_800_000_020, 300, 60).await.unwrap(), Ok(()));
    assert_eq!(store.check_code(&digest, &"w".repeat(64), 1_800_000_030).await.unwrap(), CodeCheck::Wrong { left: 4 });
    assert_eq!(store.check_code(&digest, &code, 1_800_000_040).await.unwrap(), CodeCheck::Valid);

    let certificate = SignatureCertificate {
        serial: "0A1B".into(),
        subject: "CN=周八,O=乙应用企业".into(),
        not_before: 1_800_000_000,
        not_after: 1_800_003_600,
        timestamp_at: Some(1_800_000_050),
    };
    let mut contract = signed(&signed_flow.flow_id, &signed_flow.approvers[0].sign_id, FlowStatus::All, 1);
    contract.certificate = Some(certificate.clone());
    let page = Origin { door: Door::Page, ip: Some("198.51.100.7".into()), user_agent: Some("手机浏览器".into()) };
    let code_use = Some(CodeUse { token_sha256: &digest, code_sha256: &code });
    assert_eq!(store.record_signing(&[contract], code_use, &page, 1_800_000_050).await.unwrap(), Recorded::Done);
    let review = Origin { door: Door::SignReview, ip: None, user_agent: None };
    let refusal = [(refused_flow.flow_id.clone(), refused_flow.approvers[0].sign_id.clone())];
    assert_eq!(store.record_rejection(&refusal, "不签", None, &review, 1_800_000_060).await.unwrap(), Recorded::Done);

    let flow = store.app_flows(&id(APP_B), std::slice::from_ref(&signed_flow.flow_id)).await.unwrap().remove(0);
    let trail = store.evidence_trail(&id(APP_B), flow).await.unwrap();
    assert_eq!(
        (trail.creator.organization_open_id.as_str(), trail.creator.operator_open_id.as_str()),
        ("b_org", "b_op")
    );
    let [issued] = &trail.links[..] else { panic!("{:?}", trail.links) };
    assert_eq!(
        (issued.issued_by.as_deref(), issued.group.as_ref(), issued.created_at, issued.token_sha256.as_str()),
        (Some("ChannelCreateBatchQuickSignUrl"), Some(&g.flow_group_id), 1_800_000_010, digest.as_str())
    );
    let codes: Vec<_> = trail.codes.iter().map(|c| (c.event, c.mobile.as_deref(), c.at)).collect();
    assert_eq!(
        codes,
        [
            (CodeEvent::Sent, Some("138****5678"), 1_800_000_020),
            (CodeEvent::Wrong, None, 1_800_000_030),
            (CodeEvent::Valid, None, 1_800_000_040)
        ]
    );
    let [act] = &trail.acts[..] else { panic!("{:?}", trail.acts) };
    assert_eq!(
        (&act.sign_id, act.door, act.ip.as_deref(), act.user_agent.as_deref()),
        (&signed_flow.approvers[0].sign_id, Some(Door::Page), Some("198.51.100.7"), Some("手机浏览器"))
    );
    let revisions: Vec<_> = trail
        .revisions
        .iter()
        .map(|r| (r.number, r.sha256.clone(), r.sign_id.clone(), r.certificate.clone()))
        .collect();
    assert_eq!(
        revisions,
        [
            (0, format!("{:064}", 0), None, None),
            (1, format!("{:064}", 1), Some(signed_flow.approvers[0].sign_id.clone()), Some(certificate))
        ]
    );
    // The refusal keeps its door too; the full mobile is stored nowhere in the trail.
    let pool = raw(db).await;
    let door: Option<String> = sqlx::query_scalar("SELECT sign_door FROM flow_approvers WHERE flow_id = $1")
        .bind(refused_flow.flow_id.as_str())
        .fetch_one(&pool)
        .await
        .unwrap();
    let mobiles: Vec<Option<String>> =
        sqlx::query_scalar("SELECT mobile FROM sign_code_events").fetch_all(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(door.as_deref(), Some("SIGN_REVIEW"));
    assert!(!mobiles.iter().flatten().any(|m| m.contains("12345678")), "{mobiles:?}");

    // A report is found by its application only.
    let report = Report {
        report_id: ReportId::generate(),
        flow_id: signed_flow.flow_id.clone(),
        sha256: format!("{:064}", 9),
        created_at: 1_800_000_070,
    };
    store.record_report(&id(APP_B), &report).await.unwrap();
    assert_eq!(store.evidence_report(&id(APP_B), &report.report_id).await.unwrap(), Some(report.clone()));
    assert_eq!(store.evidence_report(&id(APP_A), &report.report_id).await.unwrap(), None);
    assert_eq!(store.evidence_report(&id(APP_B), &ReportId::generate()).await.unwrap(), None);
}

on_both_backends!(the_evidence_trail_keeps_links_codes_doors_revisions_and_certificates);
async fn two_nodes_loading_the_pki_at_once_share_one_root_and_tsa(db: &TestDb) {
    use qianshu::pki::{Pki, PkiSettings, Subject};
    let (a, b) = (
        Store::connect(&db.url, common::master_key()).await.unwrap(),
        Store::connect(&db.url, common::master_key()).await.unwrap(),
    );
    let settings = PkiSettings::default();
    let (first, second) =
        tokio::join!(Pki::load(&a, &settings, "http://a.test"), Pki::load(&b, &settings, "http://b.test"));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.root_pem(), second.root_pem());
    assert_eq!(first.tsa().credential().certificate(), second.tsa().credential().certificate());
    assert_eq!(first.platform_credential().certificate(), second.platform_credential().certificate());
    let (x, y) = tokio::join!(
        first.organization_credential(APP_A, "org", "某某公司"),
        second.organization_credential(APP_A, "org", "某某公司")
    );
    assert_eq!(x.unwrap().certificate(), y.unwrap().certificate());

    // What one node signs, the other verifies as its own root's.
    let credential = first.event_credential(Subject { name: "张三", organization: None }).unwrap();
    let cms = qianshu::pki::sign_detached(&credential, [b"head", b"tail"], Some(second.timestamper())).unwrap();
    assert!(second.verify_detached(&cms, [b"head", b"tail"]).is_valid());

    let pool = raw(db).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT name, private_key FROM pki_credentials ORDER BY name").fetch_all(&pool).await.unwrap();
    pool.close().await;
    let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [&format!("organization/{APP_A}/org/某某公司"), "platform", "root", "tsa"]);
    for (name, key) in &rows {
        assert!(key.starts_with("enc1:") && !key.contains("PRIVATE"), "{name}: {key}");
    }
    let third = Pki::load(&b, &settings, "http://b.test").await.unwrap();
    assert_eq!(third.root_pem(), first.root_pem());
}

on_both_backends!(two_nodes_loading_the_pki_at_once_share_one_root_and_tsa);
