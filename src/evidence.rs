//! Evidence reports: a completed contract's whole history, read from the evidence trail the
//! signing operations wrote, set as a PDF in Chinese on the render threads, signed and
//! timestamped by qianshu ([`seal_report`]), stored as a blob by SHA-256 and recorded, all
//! before `CreateChannelFlowEvidenceReport` answers.

use std::sync::Arc;

use bytes::Bytes;

use crate::blobs::BlobStore;
use crate::domain::ExternalId;
use crate::domain::evidence::{Report, Trail, mask_mobile};
use crate::domain::flow::{Approver, FlowStatus, SignerKind};
use crate::domain::id::{FlowId, ReportId};
use crate::error::{ApiError, Code, Failure};
use crate::pdf::font::Fonts;
use crate::pdf::pades;
use crate::pdf::report::Block;
use crate::pki::Pki;
use crate::pki::pades::EventSignature;
use crate::store::Store;
use crate::synthesis::Synthesis;

/// Makes and keeps the report on `flow_id` of `app`: only a contract every party has signed
/// (`ALL`) has one.
pub async fn create_report(
    store: &Store,
    blobs: &BlobStore,
    synthesis: &Synthesis,
    pki: &Arc<Pki>,
    app: &ExternalId,
    flow_id: &FlowId,
) -> Result<Report, Failure> {
    let flow = store.app_flows(app, std::slice::from_ref(flow_id)).await?.into_iter().next().ok_or_else(|| {
        ApiError::new(
            Code::ResourceNotFound_Flow,
            format!("The contract `{flow_id}` (FlowId) does not exist or does not belong to the application."),
        )
    })?;
    if flow.status != FlowStatus::All {
        return Err(ApiError::new(
            Code::OperationDenied_FlowStatusForbid,
            format!(
                "当前流程状态不支持出证: the contract `{flow_id}` is {}; only a contract every party has signed (ALL) has a report.",
                flow.status.as_str()
            ),
        )
        .into());
    }
    let trail = store.evidence_trail(app, flow).await?;
    let report_id = ReportId::generate();
    let now = store.now();
    let blocks = report_blocks(&trail, &report_id, now);
    let footer = format!("出证报告 {report_id}  合同 {flow_id}");
    let pdf = synthesis.render_report(blocks, footer).await?;
    let sealed = seal_report(synthesis, pki.clone(), pdf, now).await?;
    let sha256 = blobs.put(sealed).await?;
    let report = Report { report_id, flow_id: flow_id.clone(), sha256, created_at: now };
    store.record_report(app, &report).await?;
    Ok(report)
}

/// A finished report, made at `now` (unix seconds), signed by qianshu's own certificate with a
/// timestamp and certified against any later change (DocMDP P=1), on the render threads.
pub async fn seal_report(synthesis: &Synthesis, pki: Arc<Pki>, pdf: Vec<u8>, now: i64) -> anyhow::Result<Bytes> {
    let fonts = synthesis.fonts().clone();
    let signed_at = time::OffsetDateTime::from_unix_timestamp(now)?;
    let sealed = synthesis.on_render_thread(move || seal(&pdf, &pki, signed_at, &fonts)).await?;
    Ok(Bytes::from(sealed))
}

/// [`seal_report`] on this thread.
pub(crate) fn seal(pdf: &[u8], pki: &Pki, signed_at: time::OffsetDateTime, fonts: &Fonts) -> anyhow::Result<Vec<u8>> {
    pades::seal(
        pdf,
        crate::pki::PLATFORM_NAME,
        signed_at,
        fonts,
        &EventSignature::new(pki.platform_credential(), pki.timestamper()),
    )
}

/// `YYYY-MM-DD HH:MM:SS` in China (UTC+8), as the report shows every time.
fn china_time(unix: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        + time::Duration::hours(8);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

fn named(name: Option<&str>, id: &str) -> String {
    match name {
        Some(name) => format!("{name}（{id}）"),
        None => id.to_owned(),
    }
}

/// Who an approver is, as the report names them.
fn signer_label(a: &Approver) -> String {
    let person = a.name.clone().unwrap_or_else(|| "（未指定）".to_owned());
    match (a.signer, a.organization_name.as_deref()) {
        (SignerKind::AutoSign, Some(org)) => format!("{org}（企业自动签署）"),
        (_, Some(org)) => format!("{org} {person}"),
        (_, None) => person,
    }
}

fn signer_kind(a: &Approver) -> &'static str {
    match a.signer {
        SignerKind::Person | SignerKind::DynamicPerson => "个人",
        SignerKind::AutoSign => "企业（自动签署）",
        SignerKind::ChannelEmployee | SignerKind::SaasEmployee | SignerKind::DynamicOrganization => "企业",
    }
}

fn approve_status(a: &Approver) -> &'static str {
    match a.status.as_str() {
        "ACCEPT" => "已签署",
        "REJECT" => "已拒签",
        "PENDING" => "待签署",
        "CANCEL" => "已撤销",
        _ => "已过期",
    }
}

/// The report, block by block.
fn report_blocks(trail: &Trail, report_id: &ReportId, now: i64) -> Vec<Block> {
    let flow = &trail.flow;
    let creator = &trail.creator;
    let mut blocks = vec![
        Block::Title("电子签署出证报告".to_owned()),
        Block::Paragraph(format!(
            "报告编号：{report_id}\n出具时间：{}（北京时间）\n出具方：qianshu 电子签署服务",
            china_time(now)
        )),
        Block::Heading("一、合同信息".to_owned()),
    ];
    let mut info = vec![
        vec!["合同名称".to_owned(), flow.name.clone()],
        vec!["合同编号（FlowId）".to_owned(), flow.flow_id.to_string()],
    ];
    if let Some((id, name)) = &flow.group {
        info.push(vec!["合同组（FlowGroupId）".to_owned(), format!("{name}（{id}）")]);
    }
    info.extend([
        vec!["合同状态".to_owned(), "已全部签署（ALL）".to_owned()],
        vec!["发起应用（AppId）".to_owned(), creator.app_id.clone()],
        vec!["发起企业".to_owned(), named(creator.organization_name.as_deref(), &creator.organization_open_id)],
        vec!["发起人".to_owned(), named(creator.operator_name.as_deref(), &creator.operator_open_id)],
        vec!["发起时间".to_owned(), china_time(flow.created_on)],
        vec!["签署截止时间".to_owned(), china_time(flow.deadline)],
    ]);
    blocks.push(Block::Table { columns: vec![("项目".to_owned(), 0.3), ("内容".to_owned(), 0.7)], rows: info });

    blocks.push(Block::Heading("二、签署方".to_owned()));
    let rows = flow
        .approvers
        .iter()
        .enumerate()
        .map(|(i, a)| {
            vec![
                (i + 1).to_string(),
                signer_label(a),
                signer_kind(a).to_owned(),
                a.mobile.as_deref().map(mask_mobile).unwrap_or_else(|| "—".to_owned()),
                approve_status(a).to_owned(),
                a.approve_time.map(china_time).unwrap_or_else(|| "—".to_owned()),
            ]
        })
        .collect();
    blocks.push(Block::Table {
        columns: vec![
            ("顺序".to_owned(), 0.07),
            ("签署方".to_owned(), 0.33),
            ("类型".to_owned(), 0.14),
            ("手机号".to_owned(), 0.14),
            ("状态".to_owned(), 0.1),
            ("签署时间".to_owned(), 0.22),
        ],
        rows,
    });

    blocks.push(Block::Heading("三、签署过程".to_owned()));
    for (i, a) in flow.approvers.iter().enumerate() {
        blocks.push(Block::Paragraph(format!("签署方 {}：{}（SignId {}）", i + 1, signer_label(a), a.sign_id)));
        blocks.push(Block::Table {
            columns: vec![("时间".to_owned(), 0.2), ("事件".to_owned(), 0.18), ("详情".to_owned(), 0.62)],
            rows: history(trail, a),
        });
    }

    blocks.push(Block::Heading("四、文件版本".to_owned()));
    blocks.push(Block::Paragraph(
        "每一版均为上一版的全部字节加一次增量更新；SHA-256 为该版 PDF 全部字节的摘要。".to_owned(),
    ));
    let rows = trail
        .revisions
        .iter()
        .map(|r| {
            let by = match &r.sign_id {
                None => "合同生成".to_owned(),
                Some(id) => flow
                    .approvers
                    .iter()
                    .find(|a| &a.sign_id == id)
                    .map_or_else(|| id.to_string(), |a| format!("{} 签署", signer_label(a))),
            };
            vec![r.number.to_string(), china_time(r.at), by, r.sha256.clone()]
        })
        .collect();
    blocks.push(Block::Table {
        columns: vec![
            ("版本".to_owned(), 0.05),
            ("时间".to_owned(), 0.19),
            ("产生方式".to_owned(), 0.14),
            // A SHA-256 in hex fits on one line of this column.
            ("SHA-256".to_owned(), 0.62),
        ],
        rows,
    });

    blocks.push(Block::Heading("五、签名证书与时间戳".to_owned()));
    let signed: Vec<_> = trail.revisions.iter().filter(|r| r.sign_id.is_some()).collect();
    if signed.iter().all(|r| r.certificate.is_none()) {
        blocks.push(Block::Paragraph("以下签署事件的签名为绘制的签名图样，未记录数字证书与时间戳。".to_owned()));
    }
    let rows = signed
        .iter()
        .map(|r| {
            let who = flow
                .approvers
                .iter()
                .find(|a| Some(&a.sign_id) == r.sign_id.as_ref())
                .map_or_else(String::new, signer_label);
            match &r.certificate {
                Some(c) => vec![
                    format!("第 {} 版", r.number),
                    who,
                    c.serial.clone(),
                    c.subject.clone(),
                    format!("{} 至 {}", china_time(c.not_before), china_time(c.not_after)),
                    c.timestamp_at.map(china_time).unwrap_or_else(|| "—".to_owned()),
                ],
                None => vec![
                    format!("第 {} 版", r.number),
                    who,
                    "未记录".to_owned(),
                    "未记录".to_owned(),
                    "—".to_owned(),
                    format!("{}（签署记录时间）", china_time(r.at)),
                ],
            }
        })
        .collect();
    blocks.push(Block::Table {
        columns: vec![
            ("版本".to_owned(), 0.08),
            ("签署方".to_owned(), 0.2),
            ("证书序列号".to_owned(), 0.16),
            ("证书主题".to_owned(), 0.2),
            ("有效期".to_owned(), 0.18),
            ("时间".to_owned(), 0.18),
        ],
        rows,
    });
    blocks.push(Block::Paragraph(
        "说明：时间均为北京时间（UTC+8）；手机号仅显示前三位与后四位；IP 地址为签署请求的来源地址（经受信任的代理时取其转发的地址）。".to_owned(),
    ));
    blocks
}

/// An approver's history, oldest first: links issued to them, codes sent and checked on those
/// links, their signing or refusal, and the revision it wrote.
fn history(trail: &Trail, a: &Approver) -> Vec<Vec<String>> {
    let mut events: Vec<(i64, u8, Vec<String>)> = Vec::new();
    let links: Vec<_> = trail.links.iter().filter(|l| l.signer.matches(a)).collect();
    for (n, l) in links.iter().enumerate() {
        let scope = if l.group.is_some() { "整个合同组" } else { "本合同" };
        let kind = if l.preview { "预览链接" } else { "签署链接" };
        events.push((
            l.created_at,
            0,
            vec![
                china_time(l.created_at),
                format!("签发{kind} #{}", n + 1),
                format!(
                    "由 {} 签发\n范围：{scope}；有效期至 {}",
                    l.issued_by.as_deref().unwrap_or("（未记录）"),
                    china_time(l.expires_at)
                ),
            ],
        ));
        for c in trail.codes.iter().filter(|c| c.token_sha256 == l.token_sha256) {
            let detail = match &c.mobile {
                Some(m) => format!("链接 #{}；发送至 {m}", n + 1),
                None => format!("链接 #{}", n + 1),
            };
            events.push((c.at, 1, vec![china_time(c.at), c.event.chinese().to_owned(), detail]));
        }
    }
    if let (Some(at), Some(act)) = (a.approve_time, trail.acts.iter().find(|x| x.sign_id == a.sign_id)) {
        let what = if a.status.as_str() == "REJECT" { "拒签" } else { "签署" };
        events.push((
            at,
            2,
            vec![
                china_time(at),
                what.to_owned(),
                format!(
                    "方式：{}\nIP：{}\nUser-Agent：{}",
                    act.door.map_or("（未记录）", |d| d.chinese()),
                    act.ip.as_deref().unwrap_or("—"),
                    act.user_agent.as_deref().unwrap_or("—")
                ),
            ],
        ));
    }
    for r in trail.revisions.iter().filter(|r| r.sign_id.as_ref() == Some(&a.sign_id)) {
        events.push((
            r.at,
            3,
            vec![china_time(r.at), format!("生成第 {} 版文件", r.number), format!("SHA-256：\n{}", r.sha256)],
        ));
    }
    events.sort_by_key(|(at, order, _)| (*at, *order));
    if events.is_empty() {
        return vec![vec!["—".to_owned(), "无记录".to_owned(), String::new()]];
    }
    events.into_iter().map(|(_, _, row)| row).collect()
}
