//! `GET /api/health`: 200 while a database query succeeds, 503 when it fails.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::AppState;

/// Returns 200 `{"status":"OK"}` when a database query succeeds, else 503 with a KO body.
pub async fn health(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Envelope {
                status: "OK",
                message: None,
            }),
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check failed: the database query failed");
            let body = Envelope {
                status: "KO",
                message: Some("The database is not reachable."),
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// The JSON envelope of the API, with `status` first as Authelia writes it.
#[derive(Serialize)]
struct Envelope {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
}
