//! ChannelVerifyPdf: the stored latest revision of a contract, every signature in it verified.

use super::agent_operator;
use crate::api::wire::{ChannelVerifyPdfRequest, ChannelVerifyPdfResponse, PdfVerifyResult};
use crate::api::{AppState, Caller};
use crate::domain::id::FlowId;
use crate::error::{ApiError, Code, Failure, fail};
use crate::store::documents::Document;
use crate::verification::{Outcome, SignatureCheck, Verification, verify};

/// `SignPlatform` of a signature under qianshu's root; Tencent writes its own name there.
const THIS_PLATFORM: &str = "qianshu";
/// `SignPlatform` of any other valid signature, Tencent's words.
const OTHER_PLATFORM: &str = "其他平台";
/// "签名类型, 保留字段, 现在全部为0".
const SIGN_TYPE: i64 = 0;

pub async fn channel_verify_pdf(
    state: &AppState,
    caller: &Caller,
    req: ChannelVerifyPdfRequest,
) -> Result<ChannelVerifyPdfResponse, Failure> {
    agent_operator(state, caller, req.agent.as_ref()).await?;
    let given = req.flow_id.as_deref().map(str::trim).filter(|f| !f.is_empty());
    let Some(given) = given else {
        return fail(Code::MissingParameter_FlowId, "The parameter `FlowId` is required.").map_err(Into::into);
    };
    let unknown = || {
        ApiError::new(
            Code::ResourceNotFound_Flow,
            format!("The contract `{given}` (FlowId) does not exist or does not belong to the application."),
        )
    };
    let flow_id = FlowId::parse(Some(given), "FlowId").map_err(|_| unknown())?;
    let ids = std::slice::from_ref(&flow_id);
    if state.store.app_flows(&caller.app_id, ids).await?.is_empty() {
        return Err(unknown().into());
    }
    // Read as DescribeResourceUrlsByFlows serves it: the latest revision, or the document as
    // first made (made now if it was not yet).
    let made = state.synthesis.ensure(&caller.app_id, ids).await?.into_iter().next();
    let sha256 = match state.store.latest_revisions(&caller.app_id, ids).await?.remove(&flow_id) {
        Some(revision) => revision.sha256,
        None => match made {
            Some(Ok(Document { sha256: Some(sha256), .. })) => sha256,
            Some(Err(why)) => {
                return fail(Code::FailedOperation, format!("The contract's document could not be made: {why}"))
                    .map_err(Into::into);
            }
            _ => return Err(anyhow::anyhow!("document of {flow_id} is ready without a blob").into()),
        },
    };
    let pdf = state.blobs.get(&sha256).await?;
    let pki = state.pki.clone();
    let (verification, md5) = crate::untrusted::parse(move || {
        let md5 = hex::encode_upper(<md5::Md5 as md5::Digest>::digest(&pdf));
        Ok((verify(&pdf, &pki), md5))
    })
    .await?;
    Ok(response(verification, md5, state.store.now_ms()))
}

fn response(verification: Verification, md5: String, now_ms: i64) -> ChannelVerifyPdfResponse {
    ChannelVerifyPdfResponse {
        verify_result: verification.outcome as i64,
        pdf_verify_results: verification.signatures.into_iter().map(entry).collect(),
        verify_serial_no: serial_no(now_ms),
        pdf_resource_md5: md5,
    }
}

/// Fourteen digits, like Tencent's: the time in milliseconds and a random digit.
fn serial_no(now_ms: i64) -> String {
    format!("{now_ms:013}{}", rand::random_range(0..10))
}

fn entry(check: SignatureCheck) -> PdfVerifyResult {
    let platform = match check.outcome {
        Outcome::Platform => THIS_PLATFORM,
        _ => OTHER_PLATFORM,
    };
    PdfVerifyResult {
        verify_result: check.outcome as i64,
        sign_platform: platform.to_owned(),
        signer_name: check.signer_name,
        sign_time: check.signed_at_ms,
        sign_algorithm: check.algorithm,
        cert_sn: check.cert_serial,
        cert_not_before: check.cert_not_before_ms,
        cert_not_after: check.cert_not_after_ms,
        sign_type: SIGN_TYPE,
        component_pos_x: check.rect.x,
        component_pos_y: check.rect.y,
        component_width: check.rect.width,
        component_height: check.rect.height,
        component_page: i64::from(check.rect.page),
    }
}
