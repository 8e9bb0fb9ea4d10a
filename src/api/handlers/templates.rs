//! DescribeTemplates.

use super::agent_operator;
use crate::api::wire::{self, DescribeTemplatesRequest, DescribeTemplatesResponse, TemplateInfo};
use crate::api::{AppState, Caller, urls};
use crate::domain::at_most;
use crate::domain::id::TemplateId;
use crate::domain::template::{RecipientType, Template};
use crate::error::{ApiError, Code, Failure, fail};
use crate::store::TemplateQuery;

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;
const MAX_OFFSET: i64 = 20_000;
const MAX_IDS: usize = 100;

pub async fn describe_templates(
    state: &AppState,
    caller: &Caller,
    req: DescribeTemplatesRequest,
) -> Result<DescribeTemplatesResponse, Failure> {
    agent_operator(state, caller, req.agent.as_ref()).await?;
    let list_only = match req.content_type.unwrap_or(0) {
        0 => false,
        1 => true,
        other => {
            return fail(
                Code::InvalidParameter_ContentType,
                format!("The parameter `ContentType` must be 0 or 1, not {other}."),
            )
            .map_err(Into::into);
        }
    };
    let limit = req.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return fail(Code::InvalidParameter, format!("The parameter `Limit` must be between 1 and {MAX_LIMIT}."))
            .map_err(Into::into);
    }
    let offset = req.offset.unwrap_or(0);
    if !(0..=MAX_OFFSET).contains(&offset) {
        return fail(Code::InvalidParameter, format!("The parameter `Offset` must be between 0 and {MAX_OFFSET}."))
            .map_err(Into::into);
    }
    let name_contains = req.template_name.filter(|n| !n.is_empty());
    if let Some(n) = &name_contains {
        at_most(n, 200, "TemplateName")?;
    }
    let now = state.store.now();
    let link = |t: &Template, wanted: Option<bool>, view: bool| {
        if wanted.unwrap_or(false) {
            state.urls.sign(&urls::blob_path(&t.pdf_sha256, &format!("{}.pdf", t.name), view), now)
        } else {
            String::new()
        }
    };
    let respond = |templates: Vec<Template>, total: i64| DescribeTemplatesResponse {
        templates: templates
            .iter()
            .map(|t| TemplateInfo {
                preview_url: link(t, req.with_preview_url, true),
                pdf_url: link(t, req.with_pdf_url, false),
                ..template_info(t, list_only, req.query_all_components.unwrap_or(false))
            })
            .collect(),
        total_count: total,
        limit,
        offset,
    };
    // qianshu has no platform-level templates, so none was handed out under a ChannelTemplateId.
    if req.channel_template_id.is_some_and(|c| !c.is_empty()) {
        return Ok(respond(Vec::new(), 0));
    }

    if let Some(id) = req.template_id.filter(|t| !t.is_empty()) {
        let id = TemplateId::parse(Some(&id), "TemplateId")?;
        let found: Vec<Template> = state
            .store
            .template(&caller.app_id, &id)
            .await?
            .map(|t| Template::clone(&t))
            .into_iter()
            .filter(|t| name_contains.as_ref().is_none_or(|n| t.name.contains(n.as_str())))
            .collect();
        let total = found.len() as i64;
        return Ok(respond(found, total));
    }
    let ids = match req.template_ids.filter(|ids| !ids.is_empty()) {
        Some(ids) if ids.len() > MAX_IDS => {
            return fail(
                Code::InvalidParameter,
                format!("The parameter `TemplateIds` holds {} ids; at most {MAX_IDS} are allowed.", ids.len()),
            )
            .map_err(Into::into);
        }
        Some(ids) => Some(
            ids.iter()
                .enumerate()
                .map(|(i, id)| TemplateId::parse(Some(id), &format!("TemplateIds.{i}")))
                .collect::<Result<Vec<_>, ApiError>>()?,
        ),
        None => None,
    };
    let query = TemplateQuery { ids: ids.clone(), name_contains, offset, limit };
    let (templates, total) = state.store.templates(&caller.app_id, &query).await?;
    if let Some(missing) = ids.iter().flatten().find(|id| !templates.iter().any(|t| &t.template_id == *id)) {
        return fail(
            Code::ResourceNotFound_Template,
            format!("The template `{}` (TemplateIds) does not exist.", missing.as_str()),
        )
        .map_err(Into::into);
    }
    Ok(respond(templates, total))
}

fn template_info(t: &Template, list_only: bool, all_components: bool) -> TemplateInfo {
    let component = |c: &crate::domain::template::Component| wire::Component {
        component_id: c.component_id.clone(),
        component_type: c.component_type.as_str().to_owned(),
        component_name: c.component_name.clone(),
        component_required: c.required,
        component_recipient_id: c.recipient_id.clone().unwrap_or_default(),
        file_index: 0,
        generate_mode: "NORMAL".to_owned(),
        component_width: c.placement.width,
        component_height: c.placement.height,
        component_page: i64::from(c.placement.page),
        component_pos_x: c.placement.x,
        component_pos_y: c.placement.y,
        component_extra: c.extra.clone().unwrap_or_default(),
        component_value: String::new(),
    };
    let (mut components, mut sign_components, mut recipients) = (Vec::new(), Vec::new(), Vec::new());
    if !list_only {
        for c in &t.components {
            if c.component_type.is_sign() {
                sign_components.push(component(c));
            } else if all_components || c.recipient_id.is_none() {
                components.push(component(c));
            }
        }
        recipients = t
            .recipients
            .iter()
            .map(|r| wire::Recipient {
                recipient_id: r.recipient_id.clone(),
                recipient_type: r.recipient_type.as_str().to_owned(),
                description: String::new(),
                role_name: r.role_name.clone(),
                require_validation: true,
                require_sign: true,
                routing_order: r.routing_order,
                is_promoter: r.recipient_type == RecipientType::Promoter,
            })
            .collect();
    }
    TemplateInfo {
        template_id: t.template_id.as_str().to_owned(),
        template_name: t.name.clone(),
        description: t.description.clone(),
        components,
        recipients,
        sign_components,
        template_type: 3,
        is_promoter: false,
        creator: String::new(),
        created_on: t.created_on,
        preview_url: String::new(),
        pdf_url: String::new(),
        channel_template_id: String::new(),
        channel_template_name: String::new(),
        channel_auto_save: 0,
        template_version: String::new(),
        available: 1,
    }
}
