//! The signing page's HTML (maud: compile-time templates that escape every value). The
//! classes and accessible names here are the contract with `assets/sign.js`, `assets/sign.css`
//! and anyone's automated tests: buttons 全部签署, 拒签, 获取验证码, 确认签署, 确认拒签; inputs
//! 验证码, 签名, 拒签理由 and each fill component by its ComponentName.

use maud::{DOCTYPE, Markup, html};

use super::assets::asset_url;
use crate::domain::document::selector_options;
use crate::domain::flow::SignerKind;
use crate::domain::signing::{Ending, Standing};
use crate::domain::template::{Component, ComponentType};
use crate::error::{ApiError, Code};
use crate::signing::Opened;

fn layout(title: &str, body: Markup) -> Markup {
    layout_refreshing(title, None, body)
}

/// `refresh`: seconds after which the page reloads itself (while the signer waits for others).
fn layout_refreshing(title: &str, refresh: Option<u32>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover";
                meta name="robots" content="noindex";
                @if let Some(seconds) = refresh { meta http-equiv="refresh" content=(seconds); }
                title { (title) }
                link rel="stylesheet" href=(asset_url("sign.css"));
                script type="module" src=(asset_url("sign.js")) {}
            }
            body { (body) }
        }
    }
}

/// A link that opens nothing: only why.
pub fn invalid(title: &str, message: &str) -> Markup {
    layout(
        title,
        html! {
            main.signing data-state="invalid" {
                header.head { h1 { (title) } }
                p.notice role="status" { (message) }
            }
        },
    )
}

const WAITING_REFRESH_SECONDS: u32 = 3;

/// The signer's fill components in the contracts due now, one per ComponentName (a name
/// fills every component of the signer's that bears it), in contract and template order.
pub fn fill_components(opened: &Opened, now: i64) -> Vec<&Component> {
    let is_signer = opened.is_signer();
    let mut seen = Vec::new();
    for contract in opened.contracts.iter().filter(|c| c.standing(&is_signer, now) == Standing::Due) {
        let Some(me) = contract.approver(&is_signer) else { continue };
        for c in contract.components_of(me).filter(|c| !c.component_type.is_sign()) {
            if !seen.iter().any(|s: &&Component| s.component_name == c.component_name) {
                seen.push(c);
            }
        }
    }
    seen
}

fn badge(standing: &Standing) -> (&'static str, &'static str) {
    match standing {
        Standing::Due => ("todo", "待签署"),
        Standing::Waiting(_) => ("waiting", "等待他人"),
        Standing::AwaitingReview(_) => ("review", "待审核"),
        Standing::Signed => ("signed", "已签署"),
        Standing::Complete => ("done", "已完成"),
        Standing::Rejected => ("rejected", "已拒签"),
        Standing::Closed(Ending::Cancelled(_)) => ("closed", "已撤销"),
        Standing::Closed(Ending::Expired) => ("closed", "已过期"),
        Standing::Closed(Ending::Refused) => ("closed", "已结束"),
        Standing::NotASigner => ("none", "无需您签署"),
    }
}

/// Why nothing is left to sign, the initiator's own words first: a cancel's reason
/// ("发起方以…的理由撤销当前合同"), then an expiry.
fn closed_notice(standings: &[Standing]) -> String {
    let ending = |pred: &dyn Fn(&Ending) -> bool| {
        standings.iter().find_map(|s| if let Standing::Closed(e) = s { pred(e).then_some(e) } else { None })
    };
    match ending(&|e| matches!(e, Ending::Cancelled(_))) {
        Some(Ending::Cancelled(Some(reason))) => format!("合同已撤销：发起方以“{reason}”的理由撤销当前合同。"),
        Some(_) => "合同已被发起方撤销。".into(),
        None if ending(&|e| *e == Ending::Expired).is_some() => "合同已过签署截止时间，无法签署。".into(),
        None => "合同已结束签署。".into(),
    }
}

/// The page for an opened link; `error` is the last submission's error and what it sent.
pub fn page(opened: &Opened, token: &str, now: i64, error: Option<(&str, &[(String, String)])>) -> Markup {
    let is_signer = opened.is_signer();
    let standings: Vec<Standing> = opened.contracts.iter().map(|c| c.standing(&is_signer, now)).collect();
    let mine: Vec<&Standing> = standings.iter().filter(|s| **s != Standing::NotASigner).collect();
    let state = if opened.link.preview {
        "preview"
    } else if mine.iter().any(|s| **s == Standing::Rejected) {
        "rejected"
    } else if !mine.is_empty() && mine.iter().all(|s| matches!(s, Standing::Signed | Standing::Complete)) {
        "signed"
    } else if mine.iter().any(|s| **s == Standing::Due) {
        "open"
    } else if mine.iter().any(|s| matches!(s, Standing::AwaitingReview(_))) {
        "review"
    } else if mine.iter().any(|s| matches!(s, Standing::Waiting(_))) {
        "waiting"
    } else {
        "closed"
    };
    let me = opened.contracts.iter().find_map(|c| c.approver(&is_signer));
    let signer_name = me.and_then(|a| a.name.clone().or_else(|| a.organization_name.clone())).unwrap_or_default();
    let organization = me.and_then(|a| a.organization_name.clone());
    let waiting: Vec<String> = standings
        .iter()
        .filter_map(|s| if let Standing::Waiting(names) = s { Some(names.clone()) } else { None })
        .flatten()
        .fold(Vec::new(), |mut all, n| {
            if !all.contains(&n) {
                all.push(n);
            }
            all
        });
    let sent = |name: &str| -> String {
        error.and_then(|(_, form)| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap_or_default()
    };
    let due_signers: Vec<_> = opened
        .contracts
        .iter()
        .zip(&standings)
        .filter(|(_, s)| **s == Standing::Due)
        .filter_map(|(c, _)| c.approver(&is_signer).map(|a| (c, a)))
        .collect();
    let needs = |kind: ComponentType| {
        due_signers.iter().any(|(c, a)| {
            c.components_of(a).any(|comp| comp.component_type == kind) && a.signer != SignerKind::AutoSign
        })
    };
    let hold = due_signers.iter().map(|(_, a)| a.page.pre_read_seconds).max().unwrap_or(0);
    let no_refuse = due_signers.iter().any(|(_, a)| a.page.no_refuse);
    let count = mine.len();
    // Waiting for others (an auto-signer takes a moment) or for a review: the page looks again
    // by itself.
    let refresh = matches!(state, "waiting" | "review").then_some(WAITING_REFRESH_SECONDS);
    layout_refreshing(
        &opened.name,
        refresh,
        html! {
            main.signing data-state=(state) {
                header.head {
                    h1 { (opened.name) }
                    p.meta { "签署人：" (signer_name) @if let Some(o) = &organization { " · " (o) } " · 共 " (opened.contracts.len()) " 份合同" }
                }
                @match state {
                    "waiting" => p.notice role="status" { "等待 " (waiting.join("、")) " 签署后，您才能签署。" },
                    "review" => p.notice role="status" { "合同正在等待发起方审核，审核通过后您才能签署。" },
                    "preview" => p.notice role="status" { "预览链接：仅供查看，不能签署。" },
                    "closed" => p.notice role="status" { (closed_notice(&standings)) },
                    "open" => p.notice role="status" { "请阅读以下 " (count) " 份合同，确认无误后全部签署。" },
                    _ => {}
                }
                @if let Some((message, _)) = error { p.error role="alert" { (message) } }
                @if state == "signed" {
                    section.done { h2 { "签署完成" } p { "您已签署全部合同，可随时通过本链接查看。" } }
                }
                @if state == "rejected" {
                    section.done { h2 { "已拒签" } p { "您已拒绝签署，发起方会收到通知。" } }
                }
                ol.directory {
                    @for (contract, standing) in opened.contracts.iter().zip(&standings) {
                        @let (status, label) = badge(standing);
                        li.contract data-flow-id=(contract.flow.flow_id.as_str()) data-status=(status) {
                            details {
                                summary { span.name { (contract.flow.name) } " " span.badge { (label) } }
                                div.pdf
                                    data-src=(format!("/s/{token}/flows/{}.pdf", contract.flow.flow_id.as_str()))
                                    aria-label=(format!("{} 合同内容", contract.flow.name)) {
                                    a href=(format!("/s/{token}/flows/{}.pdf", contract.flow.flow_id.as_str())) { "查看合同" }
                                }
                            }
                        }
                    }
                }
                @if state == "open" {
                    form.sign method="post" action=(format!("/s/{token}/sign"))
                        data-code-url=(format!("/s/{token}/code")) data-hold-seconds=(hold) {
                        @let fills = fill_components(opened, now);
                        @if !fills.is_empty() {
                            fieldset.fields {
                                legend { "填写信息" }
                                @for c in fills { (input(c, &sent(&format!("field:{}", c.component_name)))) }
                            }
                        }
                        @if needs(ComponentType::SignSignature) {
                            fieldset.signature {
                                legend { "输入或手写签名" }
                                label { "签名" input name="SignatureText" autocomplete="name" value=(sent("SignatureText")); }
                                canvas.signature-pad width="600" height="200" aria-label="手写签名" {}
                                button.clear-pad type="button" { "清除手写" }
                                input type="hidden" name="SignatureImage";
                            }
                        }
                        @if let Some(o) = organization.as_ref().filter(|_| needs(ComponentType::SignSeal)) {
                            figure.seal { figcaption { "将加盖 " (o) " 的电子印章" } }
                        }
                        div.actions {
                            button.open-sign type="button" { "全部签署" }
                            @if !no_refuse { button.open-reject type="button" { "拒签" } }
                        }
                        section.confirm.confirm-sign hidden {
                            button.send-code type="button" { "获取验证码" }
                            label { "验证码" input name="Code" inputmode="numeric" autocomplete="one-time-code" maxlength="6"; }
                            button.submit-sign type="submit" name="Action" value="sign" { "确认签署" }
                        }
                        @if !no_refuse {
                            section.confirm.confirm-reject hidden {
                                label { "拒签理由" textarea name="Reason" maxlength="500" { (sent("Reason")) } }
                                button.send-code type="button" { "获取验证码" }
                                label { "验证码" input name="Code" inputmode="numeric" autocomplete="one-time-code" maxlength="6"; }
                                button.submit-reject type="submit" name="Action" value="reject" { "确认拒签" }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// What a RECIPIENT link's holder is asked before anything else: who they are. `ask` is what
/// the form asks for and its preset value, if the platform fixed one (shown, not editable).
pub struct ClaimForm<'a> {
    pub name: Option<&'a str>,
    pub mobile: Option<&'a str>,
    /// `None`: no organisation is asked (a person's place); `Some(preset)` otherwise.
    pub organization: Option<Option<&'a str>>,
}

/// The page of a RECIPIENT link not claimed yet: the contracts to read, and who signs them.
pub fn claim(opened: &Opened, token: &str, ask: &ClaimForm, error: Option<(&str, &[(String, String)])>) -> Markup {
    let sent = |name: &str| -> String {
        error.and_then(|(_, form)| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap_or_default()
    };
    let value = |preset: Option<&str>, name: &str| preset.map(str::to_owned).unwrap_or_else(|| sent(name));
    layout(
        &opened.name,
        html! {
            main.signing data-state="claim" {
                header.head {
                    h1 { (opened.name) }
                    p.meta { "待确认签署人 · 共 " (opened.contracts.len()) " 份合同" }
                }
                p.notice role="status" { "请阅读以下合同，填写您的姓名和手机号，验证后即可签署。" }
                @if let Some((message, _)) = error { p.error role="alert" { (message) } }
                ol.directory {
                    @for contract in &opened.contracts {
                        li.contract data-flow-id=(contract.flow.flow_id.as_str()) data-status="todo" {
                            details {
                                summary { span.name { (contract.flow.name) } " " span.badge { "待确认签署人" } }
                                div.pdf
                                    data-src=(format!("/s/{token}/flows/{}.pdf", contract.flow.flow_id.as_str()))
                                    aria-label=(format!("{} 合同内容", contract.flow.name)) {
                                    a href=(format!("/s/{token}/flows/{}.pdf", contract.flow.flow_id.as_str())) { "查看合同" }
                                }
                            }
                        }
                    }
                }
                form.sign.claim method="post" action=(format!("/s/{token}/claim")) data-code-url=(format!("/s/{token}/code")) {
                    fieldset.identity {
                        legend { "签署人信息" }
                        label { "姓名" input name="Name" autocomplete="name" required maxlength="50"
                            value=(value(ask.name, "Name")) readonly[ask.name.is_some()]; }
                        label { "手机号" input name="Mobile" type="tel" inputmode="numeric" autocomplete="tel" required
                            pattern="1[3-9][0-9]{9}" maxlength="11" value=(value(ask.mobile, "Mobile")) readonly[ask.mobile.is_some()]; }
                        @if let Some(preset) = ask.organization {
                            label { "企业名称" input name="OrganizationName" autocomplete="organization" required
                                value=(value(preset, "OrganizationName")) readonly[preset.is_some()]; }
                        }
                    }
                    section.confirm.confirm-claim {
                        button.send-code type="button" { "获取验证码" }
                        label { "验证码" input name="Code" inputmode="numeric" autocomplete="one-time-code" maxlength="6"; }
                        button.submit-claim type="submit" { "确认身份" }
                    }
                }
            }
        },
    )
}

/// One fill component as a form control labelled by its ComponentName.
fn input(c: &Component, sent: &str) -> Markup {
    let name = format!("field:{}", c.component_name);
    let label = &c.component_name;
    match c.component_type {
        ComponentType::MultiLineText => html! {
            label { (label) textarea name=(name) required[c.required] { (sent) } }
        },
        ComponentType::CheckBox => html! {
            label.check { input type="checkbox" name=(name) value="true" checked[sent == "true"]; (label) }
        },
        ComponentType::Date => html! {
            label { (label) input type="date" name=(name) required[c.required] value=(sent); }
        },
        ComponentType::Selector => {
            let options = selector_options(c.extra.as_deref(), "ComponentExtra").ok().flatten().unwrap_or_default();
            html! {
                label { (label)
                    select name=(name) required[c.required] {
                        option value="" { "请选择" }
                        @for o in &options { option value=(o) selected[sent == o] { (o) } }
                    }
                }
            }
        }
        _ => html! {
            label { (label) input type="text" name=(name) required[c.required] value=(sent); }
        },
    }
}

/// An error as the signer reads it.
pub fn chinese_error(e: &ApiError) -> String {
    match e.code {
        Code::FailedOperation_AuthFail => "验证码错误或已失效，请重新输入或重新获取。".into(),
        Code::LimitExceeded_CallTimes => "验证码错误次数过多，链接已锁定，请稍后再试。".into(),
        Code::OperationDenied_NoFlowPermission => "预览链接只能查看合同，不能签署或拒签。".into(),
        Code::InvalidParameter_Unordered => "还未轮到您签署，请等待前序签署人完成。".into(),
        Code::OperationDenied_FlowStatusForbid => "您已签署全部合同。".into(),
        Code::OperationDenied_Forbid => "合同正在等待发起方审核，审核通过后您才能签署。".into(),
        Code::OperationDenied_FlowHasTerminated => "合同已结束签署（已被拒签、撤销或已过期）。".into(),
        Code::OperationDenied_RequiredComponentNotFill => {
            format!("请填写必填项：{}", e.message.split('`').nth(1).unwrap_or_default())
        }
        Code::OperationDenied_PersonHasNoSignature => "请输入签名或手写签名。".into(),
        Code::MissingParameter => "请填写拒签理由。".into(),
        Code::InvalidParameter_ComponentValue => format!("填写内容有误：{}", e.message),
        _ => e.message.clone(),
    }
}
