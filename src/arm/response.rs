//! How an [`ArmError`] goes on the wire: its status, the envelope, and `x-ms-failure-cause`.

use axum::response::{IntoResponse, Response};

use super::error::ArmError;

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        let cause = if self.status.is_server_error() {
            "service"
        } else {
            "gateway"
        };
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response
            .headers_mut()
            .insert("x-ms-failure-cause", cause.parse().expect("static header"));
        // Every "retry later" answer says when (throttling sets its own).
        if self.status == axum::http::StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", "10".parse().expect("static header"));
        }
        response
    }
}
