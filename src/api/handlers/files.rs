//! UploadFiles.

use base64::Engine;
use bytes::Bytes;

use super::agent_operator;
use crate::api::wire::{UploadFilesRequest, UploadFilesResponse};
use crate::api::{AppState, Caller, urls};
use crate::domain::at_most;
use crate::domain::file::{BusinessType, FileKind, StoredFile};
use crate::domain::id::FileId;
use crate::error::{ApiError, Code, Failure, fail};

/// "一次最多可上传20个文件".
const MAX_FILES: usize = 20;
/// A FileId works for an hour unless the caller asks for longer, up to a year.
const DEFAULT_LIFETIME: i64 = 3600;
const MAX_LIFETIME: i64 = 365 * 24 * 3600;

pub async fn upload_files(
    state: &AppState,
    caller: &Caller,
    req: UploadFilesRequest,
) -> Result<UploadFilesResponse, Failure> {
    let (organization, _) = agent_operator(state, caller, req.agent.as_ref()).await?;
    let business_type =
        BusinessType::parse(crate::domain::required(req.business_type.as_deref(), "BusinessType")?, "BusinessType")?;
    let infos = req.file_infos.unwrap_or_default();
    if infos.is_empty() {
        return fail(Code::MissingParameter, "The parameter `FileInfos` is required.").map_err(Into::into);
    }
    if infos.len() > MAX_FILES {
        return fail(
            Code::InvalidParameter,
            format!("`FileInfos` holds {} files; at most {MAX_FILES} per call.", infos.len()),
        )
        .map_err(Into::into);
    }
    let now = state.store.now();
    let deadline = match req.deadline {
        None | Some(0) => now + DEFAULT_LIFETIME,
        Some(d) if d <= now || d > now + MAX_LIFETIME => {
            return fail(
                Code::InvalidParameter,
                "The parameter `Deadline` must be in the future and at most a year away.",
            )
            .map_err(Into::into);
        }
        Some(d) => d,
    };

    let mut checked = Vec::with_capacity(infos.len());
    for (i, info) in infos.into_iter().enumerate() {
        let field = |f: &str| format!("FileInfos.{i}.{f}");
        let name = info.file_name.unwrap_or_default();
        at_most(&name, 200, &field("FileName"))?;
        let body = crate::domain::required(info.file_body.as_deref(), &field("FileBody"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| ApiError::new(Code::InvalidParameter, format!("`{}` must be base64.", field("FileBody"))))?;
        let kind = FileKind::detect(&bytes, &name, &field("FileBody"))?;
        if bytes.len() >= kind.max_bytes() {
            return fail(
                Code::LimitExceeded_FileSize,
                format!(
                    "`{}` is {} bytes; a {} file must be under {} MB.",
                    field("FileBody"),
                    bytes.len(),
                    kind.as_str(),
                    kind.max_bytes() >> 20
                ),
            )
            .map_err(Into::into);
        }
        if !business_type.accepts(kind) {
            return fail(
                Code::InvalidParameter_FileType,
                format!(
                    "`{}` is a {} file, which BusinessType {} does not take.",
                    field("FileBody"),
                    kind.as_str(),
                    business_type.as_str()
                ),
            )
            .map_err(Into::into);
        }
        let bytes = Bytes::from(bytes);
        let what = match name.as_str() {
            "" => format!("`{}`", field("FileBody")),
            name => format!("`{}` ({name})", field("FileBody")),
        };
        if kind == FileKind::Pdf {
            let pdf = bytes.clone();
            crate::untrusted::parse(move || crate::pdf::page_sizes(pdf)).await.map_err(|e| {
                ApiError::new(Code::InvalidParameter_FileType, format!("{what} is not a usable PDF: {e:#}."))
            })?;
        } else if kind.is_image() {
            let image = bytes.clone();
            crate::untrusted::parse(move || crate::pdf::image::image_xobject(&image)).await.map_err(|e| {
                ApiError::new(Code::InvalidParameter_Image, format!("{what} is not a usable image: {e:#}."))
            })?;
        }
        checked.push((name, kind, bytes));
    }
    if checked.windows(2).any(|w| w[0].1 != w[1].1) {
        return fail(Code::InvalidParameter_FileType, "All files of one `UploadFiles` call must be of the same type.")
            .map_err(Into::into);
    }

    let mut files = Vec::with_capacity(checked.len());
    for (file_name, kind, bytes) in checked {
        let size = bytes.len() as i64;
        let sha256 = state.blobs.put(bytes).await?;
        files.push(StoredFile {
            file_id: FileId::generate(),
            app_id: caller.app_id.clone(),
            organization_open_id: organization.open_id.clone(),
            business_type,
            file_name,
            kind,
            sha256,
            size,
            created_on: now,
            deadline,
        });
    }
    state.store.insert_files(&files).await?;
    Ok(UploadFilesResponse {
        total_count: files.len() as i64,
        file_ids: files.iter().map(|f| f.file_id.as_str().to_owned()).collect(),
        file_urls: files
            .iter()
            .map(|f| state.urls.sign(&urls::file_path(f.app_id.as_str(), f.file_id.as_str()), now))
            .collect(),
        deadline,
    })
}
