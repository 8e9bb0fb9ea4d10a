//! Uploaded files: what kind a file is (by its bytes, checked against its name) and what each
//! `BusinessType` accepts.

use crate::error::{ApiError, Code, fail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Png,
    Jpeg,
    Doc,
    Docx,
    Xls,
    Xlsx,
    Html,
    Zip,
}

impl FileKind {
    pub const ALL: [FileKind; 9] = [
        FileKind::Pdf,
        FileKind::Png,
        FileKind::Jpeg,
        FileKind::Doc,
        FileKind::Docx,
        FileKind::Xls,
        FileKind::Xlsx,
        FileKind::Html,
        FileKind::Zip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::Png => "png",
            FileKind::Jpeg => "jpg",
            FileKind::Doc => "doc",
            FileKind::Docx => "docx",
            FileKind::Xls => "xls",
            FileKind::Xlsx => "xlsx",
            FileKind::Html => "html",
            FileKind::Zip => "zip",
        }
    }

    pub fn parse(s: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Doc => "application/msword",
            FileKind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            FileKind::Xls => "application/vnd.ms-excel",
            FileKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileKind::Html => "text/html; charset=utf-8",
            FileKind::Zip => "application/zip",
        }
    }

    pub fn is_image(self) -> bool {
        matches!(self, FileKind::Png | FileKind::Jpeg)
    }

    /// The largest file of this kind: "图片类型(png/jpg/jpeg)限制大小为8M以下, PDF/word/excel等其他格式限制大小为60M以下".
    pub fn max_bytes(self) -> usize {
        if self.is_image() { 8 * 1024 * 1024 } else { 60 * 1024 * 1024 }
    }

    /// Names that fit the kind, by their ending.
    fn extensions(self) -> &'static [&'static str] {
        match self {
            FileKind::Pdf => &["pdf"],
            FileKind::Png => &["png"],
            FileKind::Jpeg => &["jpg", "jpeg"],
            FileKind::Doc => &["doc"],
            FileKind::Docx => &["docx"],
            FileKind::Xls => &["xls"],
            FileKind::Xlsx => &["xlsx"],
            FileKind::Html => &["html", "htm"],
            FileKind::Zip => &["zip"],
        }
    }

    /// What the bytes are; Office formats share containers, so their name tells them apart.
    pub fn detect(bytes: &[u8], name: &str, field: &str) -> Result<FileKind, ApiError> {
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        let by_ext = |kinds: &[FileKind]| {
            kinds.iter().copied().find(|k| ext.as_deref().is_some_and(|e| k.extensions().contains(&e)))
        };
        let kind = if bytes.starts_with(b"%PDF-") {
            Some(FileKind::Pdf)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(FileKind::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(FileKind::Jpeg)
        } else if bytes.starts_with(b"PK\x03\x04") {
            Some(by_ext(&[FileKind::Docx, FileKind::Xlsx]).unwrap_or(FileKind::Zip))
        } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
            by_ext(&[FileKind::Doc, FileKind::Xls])
        } else if std::str::from_utf8(bytes).is_ok() {
            by_ext(&[FileKind::Html])
        } else {
            None
        };
        let kind = kind.ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameter_FileType,
                format!("`{field}` is not a PDF, image, Word, Excel, HTML or ZIP file."),
            )
        })?;
        if let Some(e) = ext.filter(|e| !e.is_empty())
            && !kind.extensions().contains(&e.as_str())
        {
            return fail(
                Code::InvalidParameter_FileType,
                format!("`{field}` holds a {} file but its name ends in .{e}.", kind.as_str()),
            );
        }
        Ok(kind)
    }
}

/// `UploadFiles.BusinessType`: what the files are for, which decides the kinds accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusinessType {
    Template,
    Document,
    Seal,
    Archive,
    BusinessLicense,
}

impl BusinessType {
    pub fn parse(value: &str, field: &str) -> Result<BusinessType, ApiError> {
        match value {
            "TEMPLATE" => Ok(BusinessType::Template),
            "DOCUMENT" => Ok(BusinessType::Document),
            "SEAL" => Ok(BusinessType::Seal),
            "ARCHIVE" => Ok(BusinessType::Archive),
            "BUSINESSLICENSE" => Ok(BusinessType::BusinessLicense),
            other => fail(
                Code::InvalidParameter,
                format!("`{field}` must be TEMPLATE, DOCUMENT, SEAL, ARCHIVE or BUSINESSLICENSE, not `{other}`."),
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BusinessType::Template => "TEMPLATE",
            BusinessType::Document => "DOCUMENT",
            BusinessType::Seal => "SEAL",
            BusinessType::Archive => "ARCHIVE",
            BusinessType::BusinessLicense => "BUSINESSLICENSE",
        }
    }

    pub fn accepts(self, kind: FileKind) -> bool {
        use FileKind::*;
        match self {
            BusinessType::Template => matches!(kind, Pdf | Doc | Docx | Html),
            BusinessType::Document => matches!(kind, Pdf | Doc | Docx | Png | Jpeg | Xls | Xlsx | Html),
            BusinessType::Seal | BusinessType::BusinessLicense => kind.is_image(),
            BusinessType::Archive => matches!(kind, Pdf | Zip),
        }
    }
}

/// An uploaded file as recorded; its bytes are in the blob store under `sha256`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    pub file_id: super::id::FileId,
    pub app_id: super::ExternalId,
    pub organization_open_id: super::ExternalId,
    pub business_type: BusinessType,
    pub file_name: String,
    pub kind: FileKind,
    pub sha256: String,
    pub size: i64,
    pub created_on: i64,
    /// After this the FileId can no longer be used.
    pub deadline: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_known_by_its_bytes_and_its_name_must_agree() {
        assert_eq!(FileKind::detect(b"%PDF-1.7 ...", "合同.pdf", "f"), Ok(FileKind::Pdf));
        assert_eq!(FileKind::detect(b"%PDF-1.7 ...", "", "f"), Ok(FileKind::Pdf));
        assert_eq!(FileKind::detect(b"\x89PNG\r\n\x1a\n....", "seal.png", "f"), Ok(FileKind::Png));
        assert_eq!(FileKind::detect(b"\xFF\xD8\xFF\xE0", "a.JPEG", "f"), Ok(FileKind::Jpeg));
        assert_eq!(FileKind::detect(b"PK\x03\x04..", "a.docx", "f"), Ok(FileKind::Docx));
        assert_eq!(FileKind::detect(b"PK\x03\x04..", "a.zip", "f"), Ok(FileKind::Zip));
        assert_eq!(FileKind::detect(b"<html></html>", "a.html", "f"), Ok(FileKind::Html));
        let e = FileKind::detect(b"\x89PNG\r\n\x1a\n", "contract.pdf", "FileInfos.0.FileBody").unwrap_err();
        assert_eq!(e.code, Code::InvalidParameter_FileType);
        assert!(e.message.contains("png file but its name ends in .pdf"), "{}", e.message);
        assert_eq!(FileKind::detect(b"hello", "a.txt", "f").unwrap_err().code, Code::InvalidParameter_FileType);
        assert_eq!(FileKind::detect(&[0, 1, 2, 255], "x", "f").unwrap_err().code, Code::InvalidParameter_FileType);
    }

    #[test]
    fn each_business_type_accepts_its_kinds() {
        assert!(BusinessType::Template.accepts(FileKind::Pdf));
        assert!(!BusinessType::Template.accepts(FileKind::Png));
        assert!(BusinessType::Seal.accepts(FileKind::Jpeg));
        assert!(!BusinessType::Seal.accepts(FileKind::Pdf));
        assert!(BusinessType::Archive.accepts(FileKind::Zip));
        assert_eq!(BusinessType::parse("PHOTO", "b").unwrap_err().code, Code::InvalidParameter);
    }

    #[test]
    fn images_are_limited_to_8_mb_and_other_files_to_60_mb() {
        assert_eq!(FileKind::Png.max_bytes(), 8 << 20);
        assert_eq!(FileKind::Pdf.max_bytes(), 60 << 20);
    }
}
