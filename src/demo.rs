//! The demo tenant `serve --demo` loads into an empty database: the example tenants file and its
//! template PDFs are built into the binary, so it works from any directory.

use std::path::Path;

use anyhow::Context;

use crate::blobs::BlobStore;
use crate::store::Store;

const FILES: &[(&str, &[u8])] = &[
    ("demo-tenants.json", include_bytes!("../examples/demo-tenants.json")),
    ("templates/employment-contract.pdf", include_bytes!("../examples/templates/employment-contract.pdf")),
    ("templates/confidentiality-agreement.pdf", include_bytes!("../examples/templates/confidentiality-agreement.pdf")),
];

/// What was loaded, for the banner `serve` prints once it knows its address.
pub struct Demo {
    app_id: String,
    secret_id: String,
    secret_key: String,
    organization: String,
    operator: String,
    templates: Vec<String>,
}

pub async fn load(store: &Store, blobs: &BlobStore, data_dir: &Path) -> anyhow::Result<Demo> {
    let dir = data_dir.join("demo");
    for (name, bytes) in FILES {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("files sit in a directory"))?;
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    let tenants = crate::tenants::load(&dir.join("demo-tenants.json"), blobs, store).await?;
    store.apply_tenants(&tenants).await.map_err(anyhow::Error::from).context("loading the demo tenant")?;
    let t = &tenants[0];
    let (organization, operators) = &t.organizations[0];
    Ok(Demo {
        app_id: t.application.app_id.to_string(),
        secret_id: t.credentials[0].secret_id.clone(),
        secret_key: secrecy::ExposeSecret::expose_secret(&t.credentials[0].secret_key).to_owned(),
        organization: organization.open_id.to_string(),
        operator: operators[0].open_id.to_string(),
        templates: t.templates.iter().map(|t| format!("{} {}", t.template_id.as_str(), t.name)).collect(),
    })
}

impl Demo {
    /// The keys and a ready-to-run SDK snippet for a server at `address`.
    pub fn banner(&self, address: &str) -> String {
        let Demo { app_id: app, secret_id: sid, secret_key: key, organization: org, operator: op, templates } = self;
        format!(
            "loaded the demo tenant (the database was empty):\n\
             \x20 AppId     {app}\n  SecretId  {sid}\n  SecretKey {key}\n\
             \x20 Agent.ProxyOrganizationOpenId {org}, Agent.ProxyOperator.OpenId {op}\n\
             \x20 templates: {templates}\n\
             these keys are public: use them for development only.\n\n\
             try it with the official Python SDK (pip install tencentcloud-sdk-python-essbasic):\n\n\
             from tencentcloud.common import credential\n\
             from tencentcloud.common.profile.client_profile import ClientProfile\n\
             from tencentcloud.common.profile.http_profile import HttpProfile\n\
             from tencentcloud.essbasic.v20210526 import essbasic_client, models\n\
             hp = HttpProfile(protocol=\"http\", endpoint=\"{address}\")\n\
             client = essbasic_client.EssbasicClient(credential.Credential(\"{sid}\", \"{key}\"), \"\", ClientProfile(httpProfile=hp))\n\
             req = models.DescribeTemplatesRequest()\n\
             req.from_json_string('{{\"Agent\": {{\"AppId\": \"{app}\", \"ProxyOrganizationOpenId\": \"{org}\", \"ProxyOperator\": {{\"OpenId\": \"{op}\"}}}}}}')\n\
             print(client.DescribeTemplates(req).to_json_string())\n",
            templates = templates.join(", "),
        )
    }
}
