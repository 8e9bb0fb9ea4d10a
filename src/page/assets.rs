//! The signing page's static files, built into the binary: its script and style sheet, and
//! PDF.js (`assets/vendor/pdfjs`, vendored by `scripts/update-pdfjs.sh`). Each is served at
//! `/assets/{version}/{name}`, the version being the first 8 hex digits of a SHA-256 of its
//! bytes, so a new binary's page never runs an old script from a cache, and the path can be
//! cached for a year. PDF.js's files share one version (of them all) because the library finds
//! its worker and cMaps by relative URL; it is most of the bytes, and a release that does not
//! change it leaves it in the phones' caches.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{LazyLock, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// The library's entry point. `sign.js` imports it by this unversioned path, which works as it
/// is when `assets/` is served as a plain directory (the browser tests' fixture); the binary
/// serves `sign.js` with the path replaced by the versioned one.
const PDFJS_PATH: &str = "/assets/vendor/pdfjs/pdf.min.mjs";

const OWN: &[(&str, &[u8])] =
    &[("sign.js", include_bytes!("../../assets/sign.js")), ("sign.css", include_bytes!("../../assets/sign.css"))];

const PDFJS: &[(&str, &[u8])] = include!("pdfjs_files.rs");

/// A year: the longest lifetime caches honour, for paths whose bytes never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For unversioned paths and other versions' paths: whatever this binary has, checked each time.
const REVALIDATE: &str = "no-cache";

struct Asset {
    bytes: Bytes,
    /// The 8 hex digits in the asset's path.
    version: String,
    /// A strong validator of these bytes, for `If-None-Match` on the unversioned paths.
    etag: String,
    content_type: &'static str,
    /// Text only (PDF.js is 1.8 MB, 0.5 MB gzipped); made off the request path once the router
    /// is built, and until then the bytes are served as they are.
    gzipped: OnceLock<Bytes>,
}

static ASSETS: LazyLock<HashMap<&'static str, Asset>> = LazyLock::new(|| {
    let mut assets = HashMap::new();
    let pdfjs_version = version(PDFJS.iter().flat_map(|(name, bytes)| [name.as_bytes(), bytes]));
    for (name, bytes) in PDFJS {
        assets.insert(*name, Asset::new(name, Bytes::from_static(bytes), pdfjs_version.clone()));
    }
    let pdfjs_url = format!("/assets/{pdfjs_version}/vendor/pdfjs/pdf.min.mjs");
    for (name, bytes) in OWN {
        let bytes = match *name {
            "sign.js" => {
                let text = std::str::from_utf8(bytes).expect("sign.js is UTF-8");
                Bytes::from(text.replace(PDFJS_PATH, &pdfjs_url))
            }
            _ => Bytes::from_static(bytes),
        };
        let own_version = version([&*bytes]);
        assets.insert(*name, Asset::new(name, bytes, own_version));
    }
    assets
});

impl Asset {
    fn new(name: &str, bytes: Bytes, version: String) -> Asset {
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&bytes))[..32]);
        Asset { bytes, version, etag, content_type: content_type(name), gzipped: OnceLock::new() }
    }

    fn compressible(&self) -> bool {
        self.content_type.starts_with("text/")
    }

    fn gzipped(&self) -> &Bytes {
        self.gzipped.get_or_init(|| {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(&self.bytes).expect("writing to memory");
            Bytes::from(encoder.finish().expect("writing to memory"))
        })
    }
}

fn version<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        // Lengths first, so that moving bytes from one part to the next changes the version.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hex::encode(&hash.finalize()[..4])
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// The path the page links `name` by (`sign.js`, `sign.css`), with this binary's version of it.
///
/// # Panics
/// If no asset has that name: the page names its assets with constants.
pub fn asset_url(name: &str) -> String {
    let asset = ASSETS.get(name).unwrap_or_else(|| panic!("no asset named {name}"));
    format!("/assets/{}/{name}", asset.version)
}

/// `GET /assets/{version}/{name}`, and `GET /assets/{name}` for pages written with fixed paths.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    // Built now, so that a broken asset stops the server at start-up rather than a request.
    LazyLock::force(&ASSETS);
    // Compressing takes a second in a debug build: not on a runtime thread.
    std::thread::spawn(|| {
        for asset in ASSETS.values().filter(|a| a.compressible()) {
            asset.gzipped();
        }
    });
    Router::new().route("/assets/{*path}", get(serve))
}

async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let (name, cache) = match path.split_once('/') {
        Some((v, name)) if is_version(v) => {
            let Some(asset) = ASSETS.get(name) else { return not_found() };
            // Another version is a page from another binary (a node not yet upgraded): these
            // bytes serve it better than nothing, but must not be kept under that path.
            (name, if asset.version == v { IMMUTABLE } else { REVALIDATE })
        }
        _ => (path.as_str(), REVALIDATE),
    };
    let Some(asset) = ASSETS.get(name) else { return not_found() };
    let mut answer = HeaderMap::new();
    answer.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    answer.insert(header::ETAG, HeaderValue::from_str(&asset.etag).expect("hex in quotes"));
    answer.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if asset.compressible() {
        answer.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if if_none_match(&headers, &asset.etag) {
        return (StatusCode::NOT_MODIFIED, answer).into_response();
    }
    answer.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    if let Some(gzipped) = asset.gzipped.get().filter(|_| accepts_gzip(&headers)) {
        answer.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (answer, gzipped.clone()).into_response();
    }
    (answer, asset.bytes.clone()).into_response()
}

fn is_version(segment: &str) -> bool {
    segment.len() == 8 && segment.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// Whether `Accept-Encoding` lists gzip without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused =
                parts.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()).is_some_and(|q| q <= 0.0));
            (name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")) && !refused
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use std::io::Read;
    use tower::ServiceExt;

    async fn get_with(path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::get(path);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = router::<()>().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, to_bytes(body, usize::MAX).await.unwrap().to_vec())
    }

    async fn get(path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        get_with(path, &[]).await
    }

    fn file(name: &str) -> Vec<u8> {
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets").join(name)).unwrap()
    }

    #[test]
    fn every_vendored_file_the_page_may_load_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/vendor/pdfjs");
        let mut on_disk = vec![];
        for entry in walk(&dir) {
            let name = entry.strip_prefix(&dir).unwrap().to_str().unwrap().to_owned();
            if name.ends_with(".mjs") || name.ends_with(".bcmap") {
                on_disk.push(format!("vendor/pdfjs/{name}"));
            }
        }
        on_disk.sort();
        let listed: Vec<String> = PDFJS.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(listed, on_disk, "run scripts/update-pdfjs.sh");
        assert!(listed.contains(&"vendor/pdfjs/pdf.worker.min.mjs".to_owned()));
        assert!(listed.contains(&"vendor/pdfjs/cmaps/UniGB-UCS2-H.bcmap".to_owned()));
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = vec![];
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
        }
        files
    }

    #[test]
    fn urls_carry_the_version_of_the_bytes() {
        let js = &ASSETS["sign.js"];
        assert_eq!(asset_url("sign.js"), format!("/assets/{}/sign.js", version([&*js.bytes])));
        assert_eq!(asset_url("sign.css"), format!("/assets/{}/sign.css", version([&*file("sign.css")])));
        let worker = asset_url("vendor/pdfjs/pdf.worker.min.mjs");
        let cmap = asset_url("vendor/pdfjs/cmaps/UniGB-UCS2-H.bcmap");
        assert_eq!(worker.rsplit_once("/pdf.worker").unwrap().0, cmap.rsplit_once("/cmaps/").unwrap().0);
        assert!(is_version(&worker[8..16]), "{worker}");
    }

    #[test]
    fn the_script_imports_this_binarys_pdfjs() {
        let source = String::from_utf8(file("sign.js")).unwrap();
        assert_eq!(source.matches(PDFJS_PATH).count(), 1, "sign.js names {PDFJS_PATH} once");
        let served = std::str::from_utf8(&ASSETS["sign.js"].bytes).unwrap();
        assert_eq!(served, source.replace(PDFJS_PATH, &asset_url("vendor/pdfjs/pdf.min.mjs")));
        assert!(!served.contains(PDFJS_PATH));
    }

    #[tokio::test]
    async fn a_versioned_path_is_cached_for_a_year() {
        let (status, headers, body) = get(&asset_url("sign.js")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(headers[header::VARY], "accept-encoding");
        assert_eq!(body, ASSETS["sign.js"].bytes.to_vec());

        let (status, headers, body) = get(&asset_url("sign.css")).await;
        assert_eq!(
            (status, &headers[header::CONTENT_TYPE]),
            (StatusCode::OK, &"text/css; charset=utf-8".parse().unwrap())
        );
        assert_eq!(body, file("sign.css"));

        let (status, headers, body) = get(&asset_url("vendor/pdfjs/pdf.worker.min.mjs")).await;
        assert_eq!(
            (status, &headers[header::CONTENT_TYPE]),
            (StatusCode::OK, &"text/javascript; charset=utf-8".parse().unwrap())
        );
        assert_eq!(body, file("vendor/pdfjs/pdf.worker.min.mjs"));

        let (status, headers, body) = get(&asset_url("vendor/pdfjs/cmaps/UniGB-UCS2-H.bcmap")).await;
        assert_eq!(
            (status, &headers[header::CONTENT_TYPE]),
            (StatusCode::OK, &"application/octet-stream".parse().unwrap())
        );
        assert_eq!(headers.get(header::VARY), None);
        assert_eq!(body, file("vendor/pdfjs/cmaps/UniGB-UCS2-H.bcmap"));
    }

    #[tokio::test]
    async fn unversioned_and_other_versions_paths_are_revalidated() {
        let current = ASSETS["sign.css"].version.clone();
        let other = if current == "00000000" { "00000001" } else { "00000000" };
        for path in ["/assets/sign.css".to_owned(), format!("/assets/{other}/sign.css")] {
            let (status, headers, body) = get(&path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{path}");
            assert_eq!(body, file("sign.css"), "{path}");
        }
        let etag = ASSETS["sign.css"].etag.clone();
        let (status, headers, body) = get_with("/assets/sign.css", &[("if-none-match", &etag)]).await;
        assert_eq!((status, &headers[header::ETAG], body.len()), (StatusCode::NOT_MODIFIED, &etag.parse().unwrap(), 0));
        let (status, ..) = get_with("/assets/sign.css", &[("if-none-match", "\"something-else\"")]).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn text_is_gzipped_for_those_who_take_it() {
        let (_, headers, body) = get_with(&asset_url("sign.js"), &[("accept-encoding", "gzip")]).await;
        if ASSETS["sign.js"].gzipped.get().is_none() {
            // Not compressed yet: served as it is meanwhile.
            assert_eq!((headers.get(header::CONTENT_ENCODING), body), (None, ASSETS["sign.js"].bytes.to_vec()));
        }
        ASSETS["sign.js"].gzipped();
        let (status, headers, body) = get_with(&asset_url("sign.js"), &[("accept-encoding", "br, gzip;q=0.8")]).await;
        assert_eq!((status, &headers[header::CONTENT_ENCODING]), (StatusCode::OK, &"gzip".parse().unwrap()));
        let mut plain = vec![];
        flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, ASSETS["sign.js"].bytes.to_vec());

        let (_, headers, body) = get_with(&asset_url("sign.js"), &[("accept-encoding", "gzip;q=0, deflate")]).await;
        assert_eq!(headers.get(header::CONTENT_ENCODING), None);
        assert_eq!(body, ASSETS["sign.js"].bytes.to_vec());
    }

    #[tokio::test]
    async fn anything_else_is_a_bare_404() {
        let version = ASSETS["sign.js"].version.clone();
        for path in [
            "/assets/nothing.js".to_owned(),
            format!("/assets/{version}/nothing.js"),
            format!("/assets/{version}/"),
            "/assets/vendor/pdfjs/LICENSE".to_owned(),
            "/assets/../Cargo.toml".to_owned(),
            format!("/assets/{version}/{version}/sign.js"),
        ] {
            let (status, headers, body) = get(&path).await;
            assert_eq!((status, body.as_slice()), (StatusCode::NOT_FOUND, &b"not found"[..]), "{path}");
            assert_eq!(headers.get(header::CACHE_CONTROL), None, "{path}");
        }
    }
}
