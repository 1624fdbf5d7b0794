//! The dashboard's files, embedded in the binary so that it works offline: the page, its
//! script and style, and Apache ECharts (`vendor/`, from npm; its README says which
//! release and how to update it). Each is served with an `ETag` (a hash of its bytes) and
//! `Cache-Control: no-cache`: a browser revalidates and gets `304 Not Modified` until a
//! new gptsweep serves new bytes.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::api::not_found;
use crate::blobs::sha256_hex;

/// An embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../dashboard/index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../dashboard/app.js"),
    },
    Asset {
        name: "analysis.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../dashboard/analysis.js"),
    },
    Asset {
        name: "board.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../dashboard/board.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../dashboard/app.css"),
    },
    Asset {
        name: "vendor/echarts.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../dashboard/vendor/echarts.min.js"),
    },
    Asset {
        name: "vendor/LICENSE-echarts",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../../dashboard/vendor/LICENSE-echarts"),
    },
    Asset {
        name: "vendor/NOTICE-echarts",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../../dashboard/vendor/NOTICE-echarts"),
    },
];

/// The ETag of asset `i`, computed once.
fn etag(i: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    &TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", &sha256_hex(a.bytes)[..16]))
            .collect()
    })[i]
}

fn serve(i: usize, headers: &HeaderMap) -> Response {
    let tag = etag(i);
    let cache = [(CACHE_CONTROL, "no-cache"), (ETAG, tag)];
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let a = &ASSETS[i];
    (cache, [(CONTENT_TYPE, a.content_type)], a.bytes).into_response()
}

/// `GET /static/{file}`: anyone may fetch these (the sign-in page uses the style); they
/// hold no data.
pub async fn file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().position(|a| a.name == file) {
        Some(i) if a_page(i) => not_found().await.into_response(),
        Some(i) => serve(i, &headers),
        None => not_found().await.into_response(),
    }
}

/// The page itself is served at `/`, behind the token, never as a static file.
fn a_page(i: usize) -> bool {
    ASSETS[i].name == "index.html"
}

/// The dashboard page (the caller has checked the token).
pub fn index() -> Response {
    serve(0, &HeaderMap::new())
}
