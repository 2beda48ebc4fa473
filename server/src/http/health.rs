//! `GET /api/health`: 200 while the database answers, 503 when it does not.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::AppState;

/// Answers 200 `{"status":"OK"}` when the database answers a query, else 503 with a KO body.
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
            tracing::warn!(%error, "health check failed: the database did not answer");
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
