//! Calls of the portal's JSON API from inside the server, for the form bridge and the page
//! loaders.
//!
//! A call is a request through the JSON API's router (`tower::ServiceExt::oneshot`) carrying the
//! browser's own headers, cookies and peer address, so that the portal match, the cross-site
//! check, regulation and rate limits apply exactly as to a request from the browser.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{
    ACCEPT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE, TRANSFER_ENCODING,
};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The largest JSON API response read. The API's responses are a few kilobytes.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The browser request an API call is made for.
#[derive(Clone)]
pub(super) struct Caller {
    pub headers: HeaderMap,
    pub peer: SocketAddr,
}

/// The JSON API's response to one call.
pub(super) struct ApiAnswer {
    pub status: StatusCode,
    /// The JSON body, `Null` when the body is not JSON.
    pub body: Value,
    pub set_cookies: Vec<HeaderValue>,
}

impl ApiAnswer {
    /// Returns whether the call succeeded: 2xx and `"status":"OK"`.
    pub fn is_ok(&self) -> bool {
        self.status.is_success() && self.body.get("status").and_then(Value::as_str) == Some("OK")
    }

    /// Returns the envelope's `data`.
    pub fn data(&self) -> Option<&Value> {
        self.body.get("data")
    }
}

impl Caller {
    /// Sends `body` (JSON, when given) with `method` to the API `path`.
    pub async fn call(
        &self,
        api: &Router,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> ApiAnswer {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .body(match body {
                Some(value) => Body::from(value.to_string()),
                None => Body::empty(),
            })
            .expect("a method, a path and a body make a valid request");
        let headers = request.headers_mut();
        for (name, value) in &self.headers {
            if name == CONTENT_TYPE
                || name == CONTENT_LENGTH
                || name == TRANSFER_ENCODING
                || name == ACCEPT_ENCODING
            {
                continue;
            }
            headers.append(name, value.clone());
        }
        if body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));

        let response = match api.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let set_cookies = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        let body = match http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
        {
            Ok(collected) => serde_json::from_slice(&collected.to_bytes()).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        ApiAnswer {
            status,
            body,
            set_cookies,
        }
    }
}
