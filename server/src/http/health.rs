//! `GET /api/health`: 200 while the database answers, 503 when it does not.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::AppState;

/// Answers 200 `{"status":"OK"}` when the database answers a query, else 503 with a KO body.
pub async fn health(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "OK" }))).into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check failed: the database did not answer");
            let body = json!({ "status": "KO", "message": "The database is not reachable." });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
